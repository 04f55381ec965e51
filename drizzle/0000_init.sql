CREATE TABLE "security_events" (
	"id" text PRIMARY KEY NOT NULL,
	"chain" text NOT NULL,
	"seq" integer NOT NULL,
	"prev_hash" text NOT NULL,
	"hash" text NOT NULL,
	"operation" text NOT NULL,
	"account_id" text,
	"account_type" text NOT NULL,
	"shop_id" text,
	"order_ids" text[] NOT NULL,
	"reason" text,
	"ip" text,
	"user_agent" text,
	"details" jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "categories" (
	"id" text PRIMARY KEY NOT NULL,
	"slug" text NOT NULL,
	"name_zh" text NOT NULL,
	"name_en" text NOT NULL,
	CONSTRAINT "categories_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "products" (
	"id" text PRIMARY KEY NOT NULL,
	"shop_id" text NOT NULL,
	"category_id" text NOT NULL,
	"title" text NOT NULL,
	"description" text NOT NULL,
	"image_url" text,
	"review_status" text NOT NULL,
	"review_reason" text,
	"commission_bps" integer NOT NULL,
	"listed" text DEFAULT 'listed' NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "products_commission_range" CHECK ("products"."commission_bps" between 0 and 8000)
);
--> statement-breakpoint
CREATE TABLE "shops" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"owner_account_id" text NOT NULL,
	"status" text NOT NULL,
	"qualification" text NOT NULL,
	"review_note" text,
	"created_at" timestamp with time zone NOT NULL,
	"approved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "skus" (
	"id" text PRIMARY KEY NOT NULL,
	"product_id" text NOT NULL,
	"shop_id" text NOT NULL,
	"name" text NOT NULL,
	"price_fen" integer NOT NULL,
	"stock" integer NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "skus_stock_nonnegative" CHECK ("skus"."stock" >= 0),
	CONSTRAINT "skus_price_positive" CHECK ("skus"."price_fen" > 0)
);
--> statement-breakpoint
CREATE TABLE "creator_profiles" (
	"account_id" text PRIMARY KEY NOT NULL,
	"nickname" text NOT NULL,
	"sharing_permission" text NOT NULL,
	"sharing_changed_at" timestamp with time zone,
	"sharing_changed_by" text,
	"sharing_reason" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "accounts" (
	"id" text PRIMARY KEY NOT NULL,
	"login" text NOT NULL,
	"password_hash" text NOT NULL,
	"display_name" text NOT NULL,
	"roles" text[] NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "accounts_login_unique" UNIQUE("login")
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "shop_members" (
	"shop_id" text NOT NULL,
	"account_id" text NOT NULL,
	"role" text NOT NULL,
	"permissions" text[] NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "shop_members_shop_id_account_id_pk" PRIMARY KEY("shop_id","account_id")
);
--> statement-breakpoint
CREATE TABLE "order_lines" (
	"id" text PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"shop_id" text NOT NULL,
	"product_id" text NOT NULL,
	"sku_id" text NOT NULL,
	"title" text NOT NULL,
	"sku_name" text NOT NULL,
	"unit_price_fen" integer NOT NULL,
	"quantity" integer NOT NULL,
	"line_total_fen" integer NOT NULL,
	"commission_plan" text NOT NULL,
	"commission_bps" integer NOT NULL,
	CONSTRAINT "order_lines_qty_positive" CHECK ("order_lines"."quantity" > 0)
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" text PRIMARY KEY NOT NULL,
	"shop_id" text NOT NULL,
	"buyer_account_id" text NOT NULL,
	"status" text NOT NULL,
	"total_fen" integer NOT NULL,
	"venue_type" text NOT NULL,
	"venue_id" text,
	"creator_account_id" text,
	"recipient_id" text NOT NULL,
	"recipient_name_mask" text NOT NULL,
	"recipient_phone_mask" text NOT NULL,
	"recipient_address_mask" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"pay_deadline" timestamp with time zone NOT NULL,
	"paid_at" timestamp with time zone,
	"shipped_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"cancelled_at" timestamp with time zone,
	"cancel_reason" text,
	"carrier" text,
	"tracking_no" text,
	CONSTRAINT "orders_total_positive" CHECK ("orders"."total_fen" > 0)
);
--> statement-breakpoint
CREATE TABLE "payment_webhook_events" (
	"event_id" text PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"provider_ref" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"id" text PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"shop_id" text NOT NULL,
	"buyer_account_id" text NOT NULL,
	"amount_fen" integer NOT NULL,
	"provider" text NOT NULL,
	"provider_ref" text NOT NULL,
	"status" text NOT NULL,
	"failure_reason" text,
	"created_at" timestamp with time zone NOT NULL,
	"succeeded_at" timestamp with time zone,
	CONSTRAINT "payments_provider_ref_unique" UNIQUE("provider_ref")
);
--> statement-breakpoint
CREATE TABLE "carrier_accounts" (
	"account_id" text PRIMARY KEY NOT NULL,
	"carrier" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "decrypt_quotas" (
	"shop_id" text NOT NULL,
	"day" text NOT NULL,
	"base" integer NOT NULL,
	"raised" integer DEFAULT 0 NOT NULL,
	"raise_reason" text,
	"used" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "decrypt_quotas_shop_id_day_pk" PRIMARY KEY("shop_id","day")
);
--> statement-breakpoint
CREATE TABLE "privacy_data_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"shop_id" text NOT NULL,
	"bucket" text NOT NULL,
	"wrapped_key" text,
	"master_key_version" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"shredded_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "privacy_grants" (
	"shop_id" text NOT NULL,
	"account_id" text NOT NULL,
	"granted_by" text NOT NULL,
	"reason" text NOT NULL,
	"granted_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "privacy_grants_shop_id_account_id_pk" PRIMARY KEY("shop_id","account_id")
);
--> statement-breakpoint
CREATE TABLE "recipients" (
	"id" text PRIMARY KEY NOT NULL,
	"shop_id" text NOT NULL,
	"data_key_id" text NOT NULL,
	"name_ct" text NOT NULL,
	"phone_ct" text NOT NULL,
	"address_ct" text NOT NULL,
	"name_mask" text NOT NULL,
	"phone_mask" text NOT NULL,
	"address_mask" text NOT NULL,
	"phone_index" text NOT NULL,
	"name_index" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"erased_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "virtual_number_bindings" (
	"id" text PRIMARY KEY NOT NULL,
	"main_number" text NOT NULL,
	"extension" text NOT NULL,
	"order_id" text NOT NULL,
	"shop_id" text NOT NULL,
	"recipient_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"released_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "waybills" (
	"id" text PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"shop_id" text NOT NULL,
	"carrier" text NOT NULL,
	"tracking_no" text NOT NULL,
	"recipient_id" text NOT NULL,
	"label" jsonb NOT NULL,
	"print_payload" text NOT NULL,
	"signature" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"redeemed_count" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "live_room_items" (
	"id" text PRIMARY KEY NOT NULL,
	"room_id" text NOT NULL,
	"product_id" text NOT NULL,
	"shop_id" text NOT NULL,
	"position" integer NOT NULL,
	"added_at" timestamp with time zone NOT NULL,
	"removed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "live_rooms" (
	"id" text PRIMARY KEY NOT NULL,
	"creator_account_id" text NOT NULL,
	"title" text NOT NULL,
	"description" text NOT NULL,
	"status" text NOT NULL,
	"scheduled_at" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"pinned_item_id" text,
	"paid_orders" integer DEFAULT 0 NOT NULL,
	"gmv_fen" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "videos" (
	"id" text PRIMARY KEY NOT NULL,
	"creator_account_id" text NOT NULL,
	"title" text NOT NULL,
	"description" text NOT NULL,
	"anchor_product_id" text,
	"anchor_shop_id" text,
	"anchor_title" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "event_handler_runs" (
	"handler" text NOT NULL,
	"event_id" text NOT NULL,
	"handled_at" timestamp with time zone NOT NULL,
	CONSTRAINT "event_handler_runs_handler_event_id_pk" PRIMARY KEY("handler","event_id")
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status_code" integer NOT NULL,
	"response" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_scope_key_pk" PRIMARY KEY("scope","key")
);
--> statement-breakpoint
CREATE TABLE "outbox_events" (
	"id" text PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"aggregate_id" text NOT NULL,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"published_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"last_error" text
);
--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_shop_id_shops_id_fk" FOREIGN KEY ("shop_id") REFERENCES "public"."shops"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_category_id_categories_id_fk" FOREIGN KEY ("category_id") REFERENCES "public"."categories"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "skus" ADD CONSTRAINT "skus_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "public"."products"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shop_members" ADD CONSTRAINT "shop_members_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_lines" ADD CONSTRAINT "order_lines_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "public"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "live_room_items" ADD CONSTRAINT "live_room_items_room_id_live_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."live_rooms"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "security_events_chain_seq_uq" ON "security_events" USING btree ("chain","seq");--> statement-breakpoint
CREATE INDEX "security_events_shop_idx" ON "security_events" USING btree ("shop_id","occurred_at");--> statement-breakpoint
CREATE INDEX "security_events_time_idx" ON "security_events" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "security_events_account_idx" ON "security_events" USING btree ("account_id","occurred_at");--> statement-breakpoint
CREATE INDEX "security_events_order_ids_idx" ON "security_events" USING gin ("order_ids");--> statement-breakpoint
CREATE INDEX "products_shop_idx" ON "products" USING btree ("shop_id","id");--> statement-breakpoint
CREATE INDEX "products_review_idx" ON "products" USING btree ("review_status");--> statement-breakpoint
CREATE INDEX "shops_owner_idx" ON "shops" USING btree ("owner_account_id");--> statement-breakpoint
CREATE INDEX "shops_status_idx" ON "shops" USING btree ("status");--> statement-breakpoint
CREATE INDEX "skus_product_idx" ON "skus" USING btree ("product_id");--> statement-breakpoint
CREATE UNIQUE INDEX "skus_product_name_uq" ON "skus" USING btree ("product_id","name");--> statement-breakpoint
CREATE INDEX "sessions_account_idx" ON "sessions" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "shop_members_account_idx" ON "shop_members" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "order_lines_order_idx" ON "order_lines" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "orders_shop_list_idx" ON "orders" USING btree ("shop_id","id");--> statement-breakpoint
CREATE INDEX "orders_shop_status_idx" ON "orders" USING btree ("shop_id","status","id");--> statement-breakpoint
CREATE INDEX "orders_buyer_idx" ON "orders" USING btree ("buyer_account_id","id");--> statement-breakpoint
CREATE INDEX "orders_unpaid_deadline_idx" ON "orders" USING btree ("pay_deadline") WHERE "orders"."status" = 'pending_payment';--> statement-breakpoint
CREATE INDEX "orders_delivered_idx" ON "orders" USING btree ("delivered_at") WHERE "orders"."status" = 'delivered';--> statement-breakpoint
CREATE INDEX "orders_tracking_idx" ON "orders" USING btree ("tracking_no");--> statement-breakpoint
CREATE INDEX "orders_shop_paid_idx" ON "orders" USING btree ("shop_id","paid_at");--> statement-breakpoint
CREATE INDEX "payments_order_idx" ON "payments" USING btree ("order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "privacy_data_keys_active_uq" ON "privacy_data_keys" USING btree ("shop_id","bucket") WHERE "privacy_data_keys"."shredded_at" is null;--> statement-breakpoint
CREATE INDEX "privacy_data_keys_version_idx" ON "privacy_data_keys" USING btree ("master_key_version");--> statement-breakpoint
CREATE INDEX "recipients_shop_phone_idx" ON "recipients" USING btree ("shop_id","phone_index");--> statement-breakpoint
CREATE INDEX "recipients_shop_name_idx" ON "recipients" USING btree ("shop_id","name_index");--> statement-breakpoint
CREATE UNIQUE INDEX "virtual_number_active_uq" ON "virtual_number_bindings" USING btree ("main_number","extension") WHERE "virtual_number_bindings"."released_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "virtual_number_order_active_uq" ON "virtual_number_bindings" USING btree ("order_id") WHERE "virtual_number_bindings"."released_at" is null;--> statement-breakpoint
CREATE INDEX "virtual_number_expiry_idx" ON "virtual_number_bindings" USING btree ("expires_at") WHERE "virtual_number_bindings"."released_at" is null;--> statement-breakpoint
CREATE INDEX "virtual_number_lookup_idx" ON "virtual_number_bindings" USING btree ("main_number","extension");--> statement-breakpoint
CREATE UNIQUE INDEX "waybills_tracking_uq" ON "waybills" USING btree ("carrier","tracking_no");--> statement-breakpoint
CREATE INDEX "waybills_order_idx" ON "waybills" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "waybills_recipient_idx" ON "waybills" USING btree ("recipient_id");--> statement-breakpoint
CREATE UNIQUE INDEX "live_room_items_active_uq" ON "live_room_items" USING btree ("room_id","product_id") WHERE "live_room_items"."removed_at" is null;--> statement-breakpoint
CREATE INDEX "live_rooms_creator_idx" ON "live_rooms" USING btree ("creator_account_id");--> statement-breakpoint
CREATE INDEX "live_rooms_status_idx" ON "live_rooms" USING btree ("status");--> statement-breakpoint
CREATE INDEX "videos_creator_idx" ON "videos" USING btree ("creator_account_id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "outbox_events" USING btree ("id") WHERE "outbox_events"."published_at" is null;