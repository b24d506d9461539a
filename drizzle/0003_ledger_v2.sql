CREATE TABLE "gateway_instances" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"pid" integer,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL,
	"stopped_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "teams" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"cost_center" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage_rollup" (
	"bucket_start" timestamp with time zone NOT NULL,
	"team_id" text DEFAULT '' NOT NULL,
	"key_id" text NOT NULL,
	"model" text NOT NULL,
	"status" text NOT NULL,
	"tags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens" bigint DEFAULT 0 NOT NULL,
	"cost" numeric(38, 0) DEFAULT '0' NOT NULL,
	CONSTRAINT "usage_rollup_bucket_start_key_id_model_status_tags_team_id_pk" PRIMARY KEY("bucket_start","key_id","model","status","tags","team_id")
);
--> statement-breakpoint
ALTER TABLE "budget_alerts" DROP CONSTRAINT "budget_alerts_kind";
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "team_id" text;
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_team_id_teams_id_fk" FOREIGN KEY ("team_id") REFERENCES "public"."teams"("id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "budget_alerts" ADD CONSTRAINT "budget_alerts_kind" CHECK ("budget_alerts"."kind" IN ('soft', 'limit', 'overspend'));
--> statement-breakpoint
-- usage_events becomes a table partitioned by month (drizzle-kit does not model partitions): renamed aside, rebuilt, refilled.
ALTER TABLE "usage_events" RENAME TO "usage_events_old";
--> statement-breakpoint
DROP INDEX "usage_events_status_started_at_idx";
--> statement-breakpoint
DROP INDEX "usage_events_key_id_started_at_idx";
--> statement-breakpoint
CREATE TABLE "usage_events" (
	"request_id" text NOT NULL,
	"key_id" text NOT NULL,
	"team_id" text,
	"tags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"instance_id" text,
	"endpoint" text NOT NULL,
	"requested_model" text NOT NULL,
	"routed_model" text,
	"backend" text,
	"status" text NOT NULL,
	"stream" boolean NOT NULL,
	"prompt_tokens_estimated" bigint,
	"max_completion_tokens" bigint,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens_estimated" bigint,
	"usage_source" text DEFAULT 'none' NOT NULL,
	"usage_note" text,
	"reserved_cost" bigint DEFAULT 0 NOT NULL,
	"billed_cost" bigint DEFAULT 0 NOT NULL,
	"over_reservation" boolean DEFAULT false NOT NULL,
	"admitted_fail_open" boolean DEFAULT false NOT NULL,
	"over_limit" boolean DEFAULT false NOT NULL,
	"price_id" integer,
	"budget_window_start" timestamp with time zone,
	"latency_ms" integer,
	"ttft_ms" integer,
	"error_code" text,
	"attempts" integer DEFAULT 1 NOT NULL,
	"replica" text,
	"traceparent" text,
	"started_at" timestamp with time zone NOT NULL,
	"started_month" date NOT NULL,
	"finished_at" timestamp with time zone,
	"recorded_at" timestamp with time zone,
	CONSTRAINT "usage_events_key_id_request_id_started_month_pk" PRIMARY KEY("key_id","request_id","started_month"),
	CONSTRAINT "usage_events_status" CHECK ("status" IN ('pending', 'ok', 'upstream_error', 'client_disconnected', 'timeout', 'rejected', 'incomplete')),
	CONSTRAINT "usage_events_usage_source" CHECK ("usage_source" IN ('upstream', 'gateway', 'none'))
) PARTITION BY RANGE ("started_month");
--> statement-breakpoint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_price_id_prices_id_fk" FOREIGN KEY ("price_id") REFERENCES "public"."prices"("id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint
CREATE INDEX "usage_events_pending_idx" ON "usage_events" USING btree ("started_at") WHERE "usage_events"."status" = 'pending';
--> statement-breakpoint
CREATE INDEX "usage_events_key_id_started_at_idx" ON "usage_events" USING btree ("key_id","started_at");
--> statement-breakpoint
CREATE INDEX "usage_events_started_at_idx" ON "usage_events" USING btree ("started_at","key_id","request_id");
--> statement-breakpoint
-- Rows of a month with no partition yet land here; the function below moves them when their month's partition is made.
CREATE TABLE "usage_events_default" PARTITION OF "usage_events" DEFAULT;
--> statement-breakpoint
-- The partition of one UTC month (usage_events_yYYYYmMM), made once; rows already in the default partition move into it.
CREATE OR REPLACE FUNCTION tollgate_ensure_usage_partition(month date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  first_day date := date_trunc('month', month)::date;
  next_day date := (date_trunc('month', month) + interval '1 month')::date;
  partition_name text := format('usage_events_y%sm%s', to_char(first_day, 'YYYY'), to_char(first_day, 'MM'));
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('tollgate:usage_partitions'));
  IF to_regclass(partition_name) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE usage_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition_name);
  EXECUTE format('WITH moved AS (DELETE FROM usage_events_default WHERE started_month >= %L AND started_month < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
    first_day, next_day, partition_name);
  EXECUTE format('ALTER TABLE usage_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', partition_name, first_day, next_day);
  RETURN true;
END
$$;
--> statement-breakpoint
SELECT tollgate_ensure_usage_partition(month) FROM (
  SELECT DISTINCT date_trunc('month', started_at AT TIME ZONE 'UTC')::date AS month FROM "usage_events_old"
  UNION SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date FROM generate_series(0, 2) AS i
) AS months;
--> statement-breakpoint
INSERT INTO "usage_events" ("request_id", "key_id", "endpoint", "requested_model", "routed_model", "backend", "status", "stream", "prompt_tokens_estimated", "max_completion_tokens", "prompt_tokens", "completion_tokens", "completion_tokens_estimated", "usage_source", "reserved_cost", "billed_cost", "over_reservation", "admitted_fail_open", "over_limit", "price_id", "budget_window_start", "latency_ms", "ttft_ms", "error_code", "started_at", "finished_at", "started_month", "recorded_at")
SELECT "request_id", "key_id", "endpoint", "requested_model", "routed_model", "backend", "status", "stream", "prompt_tokens_estimated", "max_completion_tokens", "prompt_tokens", "completion_tokens", "completion_tokens_estimated", "usage_source", "reserved_cost", "billed_cost", "over_reservation", "admitted_fail_open", "over_limit", "price_id", "budget_window_start", "latency_ms", "ttft_ms", "error_code", "started_at", "finished_at", date_trunc('month', "started_at" AT TIME ZONE 'UTC')::date, CASE WHEN "status" <> 'pending' THEN "finished_at" END
FROM "usage_events_old";
--> statement-breakpoint
DROP TABLE "usage_events_old";
--> statement-breakpoint
DROP TABLE "usage_daily";
--> statement-breakpoint
-- The rollup starts from every final row so far.
INSERT INTO "usage_rollup" ("bucket_start", "team_id", "key_id", "model", "status", "tags", "requests", "prompt_tokens", "completion_tokens", "cost")
SELECT date_bin('15 minutes', "started_at", '2000-01-01T00:00:00Z'::timestamptz), '', "key_id", coalesce("routed_model", "requested_model"), "status", '{}'::jsonb,
  count(*), sum("prompt_tokens"), sum("completion_tokens"), sum("billed_cost")
FROM "usage_events" WHERE "status" <> 'pending'
GROUP BY 1, 3, 4, 5;
--> statement-breakpoint
-- usage_daily, kept for its readers: per key, model and UTC day, summed from the rollup.
CREATE VIEW "usage_daily" AS
SELECT "key_id", "model", ("bucket_start" AT TIME ZONE 'UTC')::date AS "day",
  sum("requests")::bigint AS "requests",
  coalesce(sum("requests") FILTER (WHERE "status" = 'rejected'), 0)::bigint AS "rejected_requests",
  sum("prompt_tokens")::bigint AS "prompt_tokens",
  sum("completion_tokens")::bigint AS "completion_tokens",
  sum("cost") AS "cost"
FROM "usage_rollup"
GROUP BY "key_id", "model", ("bucket_start" AT TIME ZONE 'UTC')::date;
