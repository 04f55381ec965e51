CREATE TABLE "ledger_commission_freezes" (
	"creator_account_id" text PRIMARY KEY NOT NULL,
	"reason" text NOT NULL,
	"frozen_by" text NOT NULL,
	"frozen_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger_fee_rates" (
	"id" text PRIMARY KEY NOT NULL,
	"category_id" text NOT NULL,
	"bps" integer NOT NULL,
	"programme" text,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "ledger_fee_rates_bps_range" CHECK ("ledger_fee_rates"."bps" between 0 and 2000)
);
--> statement-breakpoint
CREATE TABLE "ledger_balances" (
	"account" text PRIMARY KEY NOT NULL,
	"balance" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger_journals" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"ref" text NOT NULL,
	"memo" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "ledger_journals_kind_ref" UNIQUE("kind","ref")
);
--> statement-breakpoint
CREATE TABLE "ledger_postings" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "ledger_postings_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"journal_id" text NOT NULL,
	"account" text NOT NULL,
	"amount" bigint NOT NULL,
	"order_id" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger_order_money" (
	"order_id" text PRIMARY KEY NOT NULL,
	"shop_id" text NOT NULL,
	"creator_account_id" text,
	"paid_fen" bigint NOT NULL,
	"subsidy_fen" bigint NOT NULL,
	"shop_share_fen" bigint NOT NULL,
	"commission_fen" bigint NOT NULL,
	"fee_fen" bigint NOT NULL,
	"refunded_fen" bigint DEFAULT 0 NOT NULL,
	"subsidy_reversed_fen" bigint DEFAULT 0 NOT NULL,
	"shop_share_reversed_fen" bigint DEFAULT 0 NOT NULL,
	"commission_reversed_fen" bigint DEFAULT 0 NOT NULL,
	"fee_reversed_fen" bigint DEFAULT 0 NOT NULL,
	"paid_at" timestamp with time zone NOT NULL,
	"delivered_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"settle_after" timestamp with time zone,
	"open_cases" integer DEFAULT 0 NOT NULL,
	"shop_settled_at" timestamp with time zone,
	"commission_status" text NOT NULL,
	"commission_settled_at" timestamp with time zone,
	CONSTRAINT "ledger_order_money_open_cases" CHECK ("ledger_order_money"."open_cases" >= 0),
	CONSTRAINT "ledger_order_money_refund_le_paid" CHECK ("ledger_order_money"."refunded_fen" <= "ledger_order_money"."paid_fen")
);
--> statement-breakpoint
CREATE TABLE "ledger_order_money_lines" (
	"order_id" text NOT NULL,
	"line_id" text NOT NULL,
	"category_id" text NOT NULL,
	"fee_bps" integer NOT NULL,
	"commission_bps" integer NOT NULL,
	"paid_fen" bigint NOT NULL,
	"subsidy_fen" bigint NOT NULL,
	"commission_fen" bigint NOT NULL,
	"fee_fen" bigint NOT NULL,
	"refunded_fen" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "ledger_order_money_lines_order_id_line_id_pk" PRIMARY KEY("order_id","line_id"),
	CONSTRAINT "ledger_order_money_lines_refund_le_paid" CHECK ("ledger_order_money_lines"."refunded_fen" <= "ledger_order_money_lines"."paid_fen")
);
--> statement-breakpoint
CREATE INDEX "ledger_fee_rates_category_idx" ON "ledger_fee_rates" USING btree ("category_id","starts_at");--> statement-breakpoint
CREATE INDEX "ledger_postings_account_idx" ON "ledger_postings" USING btree ("account","created_at","id");--> statement-breakpoint
CREATE INDEX "ledger_postings_journal_idx" ON "ledger_postings" USING btree ("journal_id");--> statement-breakpoint
CREATE INDEX "ledger_postings_order_idx" ON "ledger_postings" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "ledger_order_money_due_idx" ON "ledger_order_money" USING btree ("settle_after") WHERE "ledger_order_money"."shop_settled_at" is null and "ledger_order_money"."settle_after" is not null;--> statement-breakpoint
CREATE INDEX "ledger_order_money_creator_idx" ON "ledger_order_money" USING btree ("creator_account_id","paid_at");--> statement-breakpoint
CREATE INDEX "ledger_order_money_frozen_idx" ON "ledger_order_money" USING btree ("creator_account_id") WHERE "ledger_order_money"."commission_status" = 'frozen';