CREATE TABLE "sku_sales" (
	"sku_id" text PRIMARY KEY NOT NULL,
	"sold" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sku_sales" ADD CONSTRAINT "sku_sales_sku_id_skus_id_fk" FOREIGN KEY ("sku_id") REFERENCES "public"."skus"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- Sales counted so far move with the counter.
INSERT INTO "sku_sales" ("sku_id", "sold") SELECT "id", "sold" FROM "skus" WHERE "sold" > 0;--> statement-breakpoint
ALTER TABLE "skus" DROP COLUMN "sold";