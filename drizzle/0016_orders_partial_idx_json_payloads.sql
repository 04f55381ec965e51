DROP INDEX "orders_tracking_idx";--> statement-breakpoint
DROP INDEX "orders_shop_paid_idx";--> statement-breakpoint
ALTER TABLE "idempotency_keys" ALTER COLUMN "response" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "outbox_events" ALTER COLUMN "payload" SET DATA TYPE json;--> statement-breakpoint
CREATE INDEX "orders_tracking_idx" ON "orders" USING btree ("tracking_no") WHERE "orders"."tracking_no" is not null;--> statement-breakpoint
CREATE INDEX "orders_shop_paid_idx" ON "orders" USING btree ("shop_id","paid_at") WHERE "orders"."paid_at" is not null;