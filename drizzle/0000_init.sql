CREATE TABLE "admin_secrets" (
	"name" text PRIMARY KEY NOT NULL,
	"hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"hash" text NOT NULL,
	"scopes" text[] DEFAULT '{}'::text[] NOT NULL,
	"allowed_models" text[],
	"options" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE TABLE "budget_windows" (
	"key_id" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"window_end" timestamp with time zone NOT NULL,
	"spent_cost" bigint DEFAULT 0 NOT NULL,
	"reserved_cost" bigint DEFAULT 0 NOT NULL,
	"spent_tokens" bigint DEFAULT 0 NOT NULL,
	"reserved_tokens" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "budget_windows_key_id_window_start_pk" PRIMARY KEY("key_id","window_start")
);
--> statement-breakpoint
CREATE TABLE "budgets" (
	"key_id" text PRIMARY KEY NOT NULL,
	"limit_cost" bigint,
	"limit_tokens" bigint,
	"period" text NOT NULL,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"soft_threshold_pct" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "budgets_period" CHECK ("budgets"."period" IN ('day', 'week', 'month', 'total')),
	CONSTRAINT "budgets_soft_threshold_pct" CHECK ("budgets"."soft_threshold_pct" BETWEEN 1 AND 100)
);
--> statement-breakpoint
CREATE TABLE "prices" (
	"id" serial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"prompt_per_1k" bigint NOT NULL,
	"completion_per_1k" bigint NOT NULL,
	"effective_from" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "prices_non_negative" CHECK ("prices"."prompt_per_1k" >= 0 AND "prices"."completion_per_1k" >= 0)
);
--> statement-breakpoint
CREATE TABLE "usage_daily" (
	"key_id" text NOT NULL,
	"model" text NOT NULL,
	"day" date NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"rejected_requests" bigint DEFAULT 0 NOT NULL,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens" bigint DEFAULT 0 NOT NULL,
	"cost" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_daily_key_id_model_day_pk" PRIMARY KEY("key_id","model","day")
);
--> statement-breakpoint
CREATE TABLE "usage_events" (
	"request_id" text PRIMARY KEY NOT NULL,
	"key_id" text NOT NULL,
	"endpoint" text NOT NULL,
	"requested_model" text NOT NULL,
	"routed_model" text,
	"backend" text,
	"status" text NOT NULL,
	"stream" boolean NOT NULL,
	"prompt_tokens_estimated" integer,
	"max_completion_tokens" integer,
	"prompt_tokens" integer DEFAULT 0 NOT NULL,
	"completion_tokens" integer DEFAULT 0 NOT NULL,
	"completion_tokens_estimated" integer,
	"usage_source" text DEFAULT 'none' NOT NULL,
	"reserved_cost" bigint DEFAULT 0 NOT NULL,
	"billed_cost" bigint DEFAULT 0 NOT NULL,
	"over_reservation" boolean DEFAULT false NOT NULL,
	"price_id" integer,
	"budget_window_start" timestamp with time zone,
	"latency_ms" integer,
	"ttft_ms" integer,
	"error_code" text,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "usage_events_status" CHECK ("usage_events"."status" IN ('pending', 'ok', 'upstream_error', 'client_disconnected', 'timeout', 'rejected', 'incomplete', 'gateway_error')),
	CONSTRAINT "usage_events_usage_source" CHECK ("usage_events"."usage_source" IN ('upstream', 'gateway', 'none'))
);
--> statement-breakpoint
ALTER TABLE "budget_windows" ADD CONSTRAINT "budget_windows_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "budgets" ADD CONSTRAINT "budgets_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_price_id_prices_id_fk" FOREIGN KEY ("price_id") REFERENCES "public"."prices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "prices_model_effective_from_idx" ON "prices" USING btree ("model","effective_from");--> statement-breakpoint
CREATE INDEX "usage_events_status_started_at_idx" ON "usage_events" USING btree ("status","started_at");--> statement-breakpoint
CREATE INDEX "usage_events_key_id_started_at_idx" ON "usage_events" USING btree ("key_id","started_at");