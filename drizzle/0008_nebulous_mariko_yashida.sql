CREATE TABLE "red_envelope_rains" (
	"id" text PRIMARY KEY NOT NULL,
	"room_id" text NOT NULL,
	"created_by_account_id" text NOT NULL,
	"budget_fen" integer NOT NULL,
	"envelope_count" integer NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"opened_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"grabbed_count" integer,
	"paid_out_fen" integer,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "red_envelope_rains_count" CHECK ("red_envelope_rains"."envelope_count" between 1 and "red_envelope_rains"."budget_fen"),
	CONSTRAINT "red_envelope_rains_window" CHECK ("red_envelope_rains"."ends_at" > "red_envelope_rains"."starts_at"),
	CONSTRAINT "red_envelope_rains_paid_within_budget" CHECK ("red_envelope_rains"."paid_out_fen" is null or "red_envelope_rains"."paid_out_fen" between 0 and "red_envelope_rains"."budget_fen")
);
--> statement-breakpoint
CREATE TABLE "red_envelopes" (
	"rain_id" text NOT NULL,
	"seq" integer NOT NULL,
	"amount_fen" integer NOT NULL,
	"buyer_account_id" text,
	"grabbed_at" timestamp with time zone,
	"coupon_claim_id" text,
	CONSTRAINT "red_envelopes_rain_id_seq_pk" PRIMARY KEY("rain_id","seq"),
	CONSTRAINT "red_envelopes_amount_positive" CHECK ("red_envelopes"."amount_fen" > 0),
	CONSTRAINT "red_envelopes_grabbed_whole" CHECK (("red_envelopes"."buyer_account_id" is null) = ("red_envelopes"."grabbed_at" is null) and ("red_envelopes"."buyer_account_id" is null) = ("red_envelopes"."coupon_claim_id" is null))
);
--> statement-breakpoint
ALTER TABLE "coupons" ADD COLUMN "rain_id" text;--> statement-breakpoint
ALTER TABLE "red_envelopes" ADD CONSTRAINT "red_envelopes_rain_id_red_envelope_rains_id_fk" FOREIGN KEY ("rain_id") REFERENCES "public"."red_envelope_rains"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "red_envelope_rains_room_idx" ON "red_envelope_rains" USING btree ("room_id","id");--> statement-breakpoint
CREATE INDEX "red_envelope_rains_pending_idx" ON "red_envelope_rains" USING btree ("status","starts_at") WHERE "red_envelope_rains"."status" <> 'ended';--> statement-breakpoint
CREATE INDEX "red_envelopes_unclaimed_idx" ON "red_envelopes" USING btree ("rain_id","seq") WHERE "red_envelopes"."buyer_account_id" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "red_envelopes_rain_buyer_uq" ON "red_envelopes" USING btree ("rain_id","buyer_account_id") WHERE "red_envelopes"."buyer_account_id" is not null;--> statement-breakpoint
CREATE INDEX "coupons_rain_idx" ON "coupons" USING btree ("rain_id") WHERE "coupons"."rain_id" is not null;