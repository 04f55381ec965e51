CREATE TABLE "aftersales_cases" (
	"id" text PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"shop_id" text NOT NULL,
	"buyer_account_id" text NOT NULL,
	"type" text NOT NULL,
	"stage" text NOT NULL,
	"status" text NOT NULL,
	"reason_code" text NOT NULL,
	"description" text,
	"line_id" text,
	"requested_fen" integer NOT NULL,
	"refund_id" text NOT NULL,
	"refunded_fen" integer,
	"reject_reason" text,
	"reject_evidence" text,
	"escalation_statement" text,
	"return_carrier" text,
	"return_tracking_no" text,
	"arbitration_note" text,
	"arbitrator_account_id" text,
	"outcome" text,
	"deadline_at" timestamp with time zone,
	"opened_at" timestamp with time zone NOT NULL,
	"responded_at" timestamp with time zone,
	"responded_by" text,
	"return_shipped_at" timestamp with time zone,
	"escalated_at" timestamp with time zone,
	"closed_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "aftersales_cases_refund_id_unique" UNIQUE("refund_id"),
	CONSTRAINT "aftersales_cases_requested_positive" CHECK ("aftersales_cases"."requested_fen" > 0),
	CONSTRAINT "aftersales_cases_refunded_range" CHECK ("aftersales_cases"."refunded_fen" is null or "aftersales_cases"."refunded_fen" > 0)
);
--> statement-breakpoint
CREATE TABLE "order_shipping_holds" (
	"order_id" text PRIMARY KEY NOT NULL,
	"case_id" text NOT NULL,
	"held_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment_refunds" (
	"id" text PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"order_id" text NOT NULL,
	"shop_id" text NOT NULL,
	"line_id" text,
	"amount_fen" integer NOT NULL,
	"status" text NOT NULL,
	"reason" text NOT NULL,
	"provider_refund_ref" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"succeeded_at" timestamp with time zone,
	CONSTRAINT "payment_refunds_amount_positive" CHECK ("payment_refunds"."amount_fen" > 0)
);
--> statement-breakpoint
ALTER TABLE "order_shipping_holds" ADD CONSTRAINT "order_shipping_holds_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "aftersales_cases_one_open_idx" ON "aftersales_cases" USING btree ("order_id") WHERE "aftersales_cases"."status" in ('open', 'awaiting_return', 'return_shipped', 'rejected', 'arbitration');--> statement-breakpoint
CREATE INDEX "aftersales_cases_order_idx" ON "aftersales_cases" USING btree ("order_id","id");--> statement-breakpoint
CREATE INDEX "aftersales_cases_shop_idx" ON "aftersales_cases" USING btree ("shop_id","id");--> statement-breakpoint
CREATE INDEX "aftersales_cases_shop_status_idx" ON "aftersales_cases" USING btree ("shop_id","status","id");--> statement-breakpoint
CREATE INDEX "aftersales_cases_buyer_idx" ON "aftersales_cases" USING btree ("buyer_account_id","id");--> statement-breakpoint
CREATE INDEX "aftersales_cases_status_idx" ON "aftersales_cases" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "aftersales_cases_deadline_idx" ON "aftersales_cases" USING btree ("deadline_at") WHERE "aftersales_cases"."status" in ('open', 'awaiting_return', 'return_shipped', 'rejected');--> statement-breakpoint
CREATE INDEX "payment_refunds_payment_idx" ON "payment_refunds" USING btree ("payment_id");--> statement-breakpoint
CREATE INDEX "payment_refunds_order_idx" ON "payment_refunds" USING btree ("order_id");--> statement-breakpoint
-- Shop owners hold every permission, so existing owners get the new one too.
UPDATE "shop_members" SET "permissions" = array_append("permissions", 'aftersales.handle') WHERE "role" = 'owner' AND NOT ('aftersales.handle' = ANY("permissions"));
