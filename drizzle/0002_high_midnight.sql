CREATE TABLE "coupon_claims" (
	"id" text PRIMARY KEY NOT NULL,
	"coupon_id" text NOT NULL,
	"buyer_account_id" text NOT NULL,
	"status" text NOT NULL,
	"order_id" text,
	"claimed_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	CONSTRAINT "coupon_claims_used_has_order" CHECK (("coupon_claims"."status" = 'used') = ("coupon_claims"."order_id" is not null))
);
--> statement-breakpoint
CREATE TABLE "coupons" (
	"id" text PRIMARY KEY NOT NULL,
	"issuer" text NOT NULL,
	"shop_id" text,
	"title" text NOT NULL,
	"amount_off_fen" integer NOT NULL,
	"min_spend_fen" integer NOT NULL,
	"valid_from" timestamp with time zone NOT NULL,
	"valid_until" timestamp with time zone NOT NULL,
	"total_quantity" integer NOT NULL,
	"claimed_count" integer DEFAULT 0 NOT NULL,
	"per_buyer_limit" integer DEFAULT 1 NOT NULL,
	"live_room_id" text,
	"status" text NOT NULL,
	"created_by_account_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"stopped_at" timestamp with time zone,
	CONSTRAINT "coupons_amount_positive" CHECK ("coupons"."amount_off_fen" > 0),
	CONSTRAINT "coupons_min_spend_above_amount" CHECK ("coupons"."min_spend_fen" > "coupons"."amount_off_fen"),
	CONSTRAINT "coupons_quantity_positive" CHECK ("coupons"."total_quantity" > 0),
	CONSTRAINT "coupons_claimed_within_quantity" CHECK ("coupons"."claimed_count" between 0 and "coupons"."total_quantity"),
	CONSTRAINT "coupons_window" CHECK ("coupons"."valid_until" > "coupons"."valid_from"),
	CONSTRAINT "coupons_per_buyer_one" CHECK ("coupons"."per_buyer_limit" = 1),
	CONSTRAINT "coupons_issuer_shop" CHECK (("coupons"."issuer" = 'shop') = ("coupons"."shop_id" is not null))
);
--> statement-breakpoint
-- Existing rows are backfilled before NOT NULL applies: no discount, the product's category today.
ALTER TABLE "order_lines" ADD COLUMN "category_id" text;--> statement-breakpoint
UPDATE "order_lines" SET "category_id" = "products"."category_id" FROM "products" WHERE "products"."id" = "order_lines"."product_id";--> statement-breakpoint
ALTER TABLE "order_lines" ALTER COLUMN "category_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "shop_discount_fen" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "platform_discount_fen" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "order_lines" ADD COLUMN "paid_fen" integer;--> statement-breakpoint
UPDATE "order_lines" SET "paid_fen" = "line_total_fen";--> statement-breakpoint
ALTER TABLE "order_lines" ALTER COLUMN "paid_fen" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "shop_discount_fen" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "platform_discount_fen" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "payable_fen" integer;--> statement-breakpoint
UPDATE "orders" SET "payable_fen" = "total_fen";--> statement-breakpoint
ALTER TABLE "orders" ALTER COLUMN "payable_fen" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "coupon_claims" ADD CONSTRAINT "coupon_claims_coupon_id_coupons_id_fk" FOREIGN KEY ("coupon_id") REFERENCES "public"."coupons"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "coupon_claims_coupon_buyer_uq" ON "coupon_claims" USING btree ("coupon_id","buyer_account_id");--> statement-breakpoint
CREATE INDEX "coupon_claims_buyer_idx" ON "coupon_claims" USING btree ("buyer_account_id","id");--> statement-breakpoint
CREATE INDEX "coupon_claims_order_idx" ON "coupon_claims" USING btree ("order_id") WHERE "coupon_claims"."order_id" is not null;--> statement-breakpoint
CREATE INDEX "coupons_shop_idx" ON "coupons" USING btree ("shop_id","id");--> statement-breakpoint
CREATE INDEX "coupons_issuer_idx" ON "coupons" USING btree ("issuer","id");--> statement-breakpoint
CREATE INDEX "coupons_live_room_idx" ON "coupons" USING btree ("live_room_id");--> statement-breakpoint
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_paid_nonnegative" CHECK ("order_lines"."paid_fen" >= 0);--> statement-breakpoint
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_discounts_nonnegative" CHECK ("order_lines"."shop_discount_fen" >= 0 and "order_lines"."platform_discount_fen" >= 0);--> statement-breakpoint
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_paid_sum" CHECK ("order_lines"."paid_fen" = "order_lines"."line_total_fen" - "order_lines"."shop_discount_fen" - "order_lines"."platform_discount_fen");--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_payable_positive" CHECK ("orders"."payable_fen" > 0);--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_discounts_nonnegative" CHECK ("orders"."shop_discount_fen" >= 0 and "orders"."platform_discount_fen" >= 0);--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_payable_sum" CHECK ("orders"."payable_fen" = "orders"."total_fen" - "orders"."shop_discount_fen" - "orders"."platform_discount_fen");