CREATE TABLE "ledger_category_deposit_requirements" (
	"category_id" text PRIMARY KEY NOT NULL,
	"required_fen" bigint NOT NULL,
	"set_by" text NOT NULL,
	"set_at" timestamp with time zone NOT NULL,
	CONSTRAINT "ledger_category_deposit_requirements_nonneg" CHECK ("ledger_category_deposit_requirements"."required_fen" >= 0)
);
--> statement-breakpoint
CREATE TABLE "ledger_deposit_deductions" (
	"id" text PRIMARY KEY NOT NULL,
	"account" text NOT NULL,
	"kind" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"reason" text NOT NULL,
	"note" text,
	"operator_id" text NOT NULL,
	"journal_id" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "ledger_deposit_deductions_nonneg" CHECK ("ledger_deposit_deductions"."amount_fen" >= 0)
);
--> statement-breakpoint
CREATE TABLE "ledger_deposit_payments" (
	"id" text PRIMARY KEY NOT NULL,
	"account" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"provider" text NOT NULL,
	"provider_ref" text NOT NULL,
	"status" text NOT NULL,
	"failure_reason" text,
	"paid_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"succeeded_at" timestamp with time zone,
	CONSTRAINT "ledger_deposit_payments_provider_ref_unique" UNIQUE("provider_ref")
);
--> statement-breakpoint
CREATE TABLE "ledger_deposits" (
	"account" text PRIMARY KEY NOT NULL,
	"owner_kind" text NOT NULL,
	"owner_id" text NOT NULL,
	"category_id" text,
	"status" text NOT NULL,
	"required_fen" bigint,
	"required_month" text,
	"last_month_gmv_fen" bigint,
	"withdrawal_requested_at" timestamp with time zone,
	"review_ends_at" timestamp with time zone,
	"withdrawal_payout_account_id" text,
	"withdrawal_payout_id" text,
	"frozen_reason" text,
	"frozen_by" text,
	"frozen_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger_payout_accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_kind" text NOT NULL,
	"owner_id" text NOT NULL,
	"bank_name" text NOT NULL,
	"holder_name" text NOT NULL,
	"account_last4" text NOT NULL,
	"provider_token" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger_payouts" (
	"id" text PRIMARY KEY NOT NULL,
	"owner_kind" text NOT NULL,
	"owner_id" text NOT NULL,
	"purpose" text NOT NULL,
	"source_account" text NOT NULL,
	"payout_account_id" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"status" text NOT NULL,
	"provider" text NOT NULL,
	"provider_ref" text,
	"failure_reason" text,
	"requested_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "ledger_payouts_positive" CHECK ("ledger_payouts"."amount_fen" > 0)
);
--> statement-breakpoint
CREATE INDEX "ledger_deposit_deductions_account_idx" ON "ledger_deposit_deductions" USING btree ("account","id");--> statement-breakpoint
CREATE INDEX "ledger_deposit_payments_account_idx" ON "ledger_deposit_payments" USING btree ("account","id");--> statement-breakpoint
CREATE INDEX "ledger_deposits_owner_idx" ON "ledger_deposits" USING btree ("owner_kind","owner_id");--> statement-breakpoint
CREATE INDEX "ledger_deposits_review_idx" ON "ledger_deposits" USING btree ("review_ends_at") WHERE "ledger_deposits"."status" = 'reviewing';--> statement-breakpoint
CREATE INDEX "ledger_deposits_month_idx" ON "ledger_deposits" USING btree ("owner_kind","required_month");--> statement-breakpoint
CREATE INDEX "ledger_payout_accounts_owner_idx" ON "ledger_payout_accounts" USING btree ("owner_kind","owner_id","id");--> statement-breakpoint
CREATE INDEX "ledger_payouts_owner_idx" ON "ledger_payouts" USING btree ("owner_kind","owner_id","id");--> statement-breakpoint
CREATE INDEX "ledger_payouts_processing_idx" ON "ledger_payouts" USING btree ("sent_at") WHERE "ledger_payouts"."status" = 'processing';