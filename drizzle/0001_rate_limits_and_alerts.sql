CREATE TABLE "budget_alerts" (
	"id" serial PRIMARY KEY NOT NULL,
	"key_id" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"kind" text NOT NULL,
	"used" bigint NOT NULL,
	"limit" bigint NOT NULL,
	"unit" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "budget_alerts_kind" CHECK ("budget_alerts"."kind" IN ('soft', 'limit'))
);
--> statement-breakpoint
CREATE TABLE "rate_windows" (
	"key_id" text NOT NULL,
	"minute_start" timestamp with time zone NOT NULL,
	"requests" integer DEFAULT 0 NOT NULL,
	"tokens" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "rate_windows_key_id_minute_start_pk" PRIMARY KEY("key_id","minute_start")
);
--> statement-breakpoint
ALTER TABLE "budget_alerts" ADD CONSTRAINT "budget_alerts_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rate_windows" ADD CONSTRAINT "rate_windows_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "budget_alerts_once_idx" ON "budget_alerts" USING btree ("key_id","window_start","kind");