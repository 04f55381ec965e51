DROP INDEX "orders_unpaid_deadline_idx";--> statement-breakpoint
DROP INDEX "orders_delivered_idx";--> statement-breakpoint
CREATE INDEX "orders_unpaid_deadline_idx" ON "orders" USING btree ("pay_deadline") WHERE "orders"."status" = 'pending_payment' and "orders"."pay_deadline" is not null;--> statement-breakpoint
CREATE INDEX "orders_delivered_idx" ON "orders" USING btree ("delivered_at") WHERE "orders"."status" = 'delivered' and "orders"."delivered_at" is not null;