CREATE TABLE "flash_sale_buckets" (
	"slot_id" text NOT NULL,
	"bucket" integer NOT NULL,
	"remaining" integer NOT NULL,
	CONSTRAINT "flash_sale_buckets_slot_id_bucket_pk" PRIMARY KEY("slot_id","bucket"),
	CONSTRAINT "flash_sale_buckets_remaining_nonnegative" CHECK ("flash_sale_buckets"."remaining" >= 0)
);
--> statement-breakpoint
CREATE TABLE "flash_sale_buyers" (
	"slot_id" text NOT NULL,
	"buyer_account_id" text NOT NULL,
	"units" integer NOT NULL,
	"max_units" integer NOT NULL,
	CONSTRAINT "flash_sale_buyers_slot_id_buyer_account_id_pk" PRIMARY KEY("slot_id","buyer_account_id"),
	CONSTRAINT "flash_sale_buyers_units_range" CHECK ("flash_sale_buyers"."units" >= 0 and "flash_sale_buyers"."units" <= "flash_sale_buyers"."max_units")
);
--> statement-breakpoint
CREATE TABLE "flash_sale_reservations" (
	"id" text PRIMARY KEY NOT NULL,
	"slot_id" text NOT NULL,
	"buyer_account_id" text NOT NULL,
	"quantity" integer NOT NULL,
	"bucket" integer NOT NULL,
	"status" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"request_hash" text NOT NULL,
	"order_id" text,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"ordered_at" timestamp with time zone,
	"released_at" timestamp with time zone,
	"release_reason" text,
	CONSTRAINT "flash_sale_reservations_quantity_positive" CHECK ("flash_sale_reservations"."quantity" > 0)
);
--> statement-breakpoint
CREATE TABLE "flash_sale_slots" (
	"id" text PRIMARY KEY NOT NULL,
	"room_id" text NOT NULL,
	"cart_item_id" text NOT NULL,
	"product_id" text NOT NULL,
	"sku_id" text NOT NULL,
	"shop_id" text NOT NULL,
	"price_fen" integer NOT NULL,
	"list_price_fen" integer NOT NULL,
	"quantity" integer NOT NULL,
	"per_buyer_limit" integer NOT NULL,
	"bucket_count" integer NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"scheduled_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"opened_at" timestamp with time zone,
	"sold_out_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"returned_units" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "flash_sale_slots_price_below_list" CHECK ("flash_sale_slots"."price_fen" > 0 and "flash_sale_slots"."price_fen" < "flash_sale_slots"."list_price_fen"),
	CONSTRAINT "flash_sale_slots_quantity_positive" CHECK ("flash_sale_slots"."quantity" > 0),
	CONSTRAINT "flash_sale_slots_limit_range" CHECK ("flash_sale_slots"."per_buyer_limit" >= 1 and "flash_sale_slots"."per_buyer_limit" <= "flash_sale_slots"."quantity"),
	CONSTRAINT "flash_sale_slots_buckets_range" CHECK ("flash_sale_slots"."bucket_count" between 1 and 64),
	CONSTRAINT "flash_sale_slots_window" CHECK ("flash_sale_slots"."ends_at" > "flash_sale_slots"."starts_at"),
	CONSTRAINT "flash_sale_slots_returned_range" CHECK ("flash_sale_slots"."returned_units" between 0 and "flash_sale_slots"."quantity")
);
--> statement-breakpoint
ALTER TABLE "flash_sale_buckets" ADD CONSTRAINT "flash_sale_buckets_slot_id_flash_sale_slots_id_fk" FOREIGN KEY ("slot_id") REFERENCES "public"."flash_sale_slots"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "flash_sale_reservations_key_uq" ON "flash_sale_reservations" USING btree ("buyer_account_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "flash_sale_reservations_slot_idx" ON "flash_sale_reservations" USING btree ("slot_id","status");--> statement-breakpoint
CREATE INDEX "flash_sale_reservations_expiry_idx" ON "flash_sale_reservations" USING btree ("expires_at") WHERE "flash_sale_reservations"."status" = 'reserved';--> statement-breakpoint
CREATE INDEX "flash_sale_reservations_order_idx" ON "flash_sale_reservations" USING btree ("order_id") WHERE "flash_sale_reservations"."order_id" is not null;--> statement-breakpoint
CREATE INDEX "flash_sale_slots_room_idx" ON "flash_sale_slots" USING btree ("room_id","status");--> statement-breakpoint
CREATE INDEX "flash_sale_slots_opening_idx" ON "flash_sale_slots" USING btree ("starts_at") WHERE "flash_sale_slots"."status" = 'scheduled';--> statement-breakpoint
CREATE INDEX "flash_sale_slots_ending_idx" ON "flash_sale_slots" USING btree ("ends_at") WHERE "flash_sale_slots"."status" <> 'ended';