CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"request_id" text,
	CONSTRAINT "audit_log_action" CHECK ("audit_log"."action" IN ('key.create', 'key.update', 'key.revoke', 'key.rotate', 'key.move', 'budget.set', 'budget.delete', 'price.add', 'team.create', 'team.update', 'period.close', 'report.export'))
);
--> statement-breakpoint
CREATE TABLE "report_periods" (
	"period" text PRIMARY KEY NOT NULL,
	"timezone" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"closed_by" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "statement_lines" (
	"statement_id" text NOT NULL,
	"line_no" integer NOT NULL,
	"kind" text NOT NULL,
	"usage_period" text NOT NULL,
	"team_id" text NOT NULL,
	"key_id" text NOT NULL,
	"model" text NOT NULL,
	"requests" bigint NOT NULL,
	"prompt_tokens" bigint NOT NULL,
	"completion_tokens" bigint NOT NULL,
	"cost" numeric(38, 0) NOT NULL,
	CONSTRAINT "statement_lines_statement_id_line_no_pk" PRIMARY KEY("statement_id","line_no"),
	CONSTRAINT "statement_lines_kind" CHECK ("statement_lines"."kind" IN ('usage', 'adjustment'))
);
--> statement-breakpoint
CREATE TABLE "statements" (
	"id" text PRIMARY KEY NOT NULL,
	"period" text NOT NULL,
	"team_id" text NOT NULL,
	"currency" text DEFAULT 'USD' NOT NULL,
	"requests" bigint NOT NULL,
	"prompt_tokens" bigint NOT NULL,
	"completion_tokens" bigint NOT NULL,
	"cost" numeric(38, 0) NOT NULL,
	"generated_at" timestamp with time zone NOT NULL,
	"content" jsonb NOT NULL,
	"content_hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage_compact" (
	"segment_start" timestamp with time zone NOT NULL,
	"segment_end" timestamp with time zone NOT NULL,
	"team_id" text DEFAULT '' NOT NULL,
	"key_id" text NOT NULL,
	"model" text NOT NULL,
	"status" text NOT NULL,
	"tags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"requests" bigint NOT NULL,
	"prompt_tokens" bigint NOT NULL,
	"completion_tokens" bigint NOT NULL,
	"cost" numeric(38, 0) NOT NULL,
	CONSTRAINT "usage_compact_segment_start_segment_end_key_id_model_status_tags_team_id_pk" PRIMARY KEY("segment_start","segment_end","key_id","model","status","tags","team_id")
);
--> statement-breakpoint
CREATE TABLE "usage_compact_segments" (
	"segment_start" timestamp with time zone NOT NULL,
	"segment_end" timestamp with time zone NOT NULL,
	"through" timestamp with time zone NOT NULL,
	"compacted_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_compact_segments_segment_start_segment_end_pk" PRIMARY KEY("segment_start","segment_end")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "report_teams" text[];--> statement-breakpoint
ALTER TABLE "statement_lines" ADD CONSTRAINT "statement_lines_statement_id_statements_id_fk" FOREIGN KEY ("statement_id") REFERENCES "public"."statements"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "statements" ADD CONSTRAINT "statements_period_report_periods_period_fk" FOREIGN KEY ("period") REFERENCES "public"."report_periods"("period") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "statement_lines_usage_period_idx" ON "statement_lines" USING btree ("usage_period","team_id","key_id","model");--> statement-breakpoint
CREATE UNIQUE INDEX "statements_period_team_idx" ON "statements" USING btree ("period","team_id");--> statement-breakpoint
CREATE INDEX "usage_compact_segments_through_idx" ON "usage_compact_segments" USING btree ("through");--> statement-breakpoint
CREATE UNIQUE INDEX "teams_name_idx" ON "teams" USING btree ("name");--> statement-breakpoint
CREATE INDEX "usage_events_recorded_at_idx" ON "usage_events" USING btree ("recorded_at");--> statement-breakpoint
-- Closed periods, their statements and lines, and the audit log are append-only: late usage is an adjustment on a later statement, never an edit.
CREATE OR REPLACE FUNCTION tollgate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: issued records never change', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;
--> statement-breakpoint
CREATE TRIGGER "report_periods_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "report_periods" FOR EACH STATEMENT EXECUTE FUNCTION tollgate_append_only();
--> statement-breakpoint
CREATE TRIGGER "statements_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "statements" FOR EACH STATEMENT EXECUTE FUNCTION tollgate_append_only();
--> statement-breakpoint
CREATE TRIGGER "statement_lines_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "statement_lines" FOR EACH STATEMENT EXECUTE FUNCTION tollgate_append_only();
--> statement-breakpoint
CREATE TRIGGER "audit_log_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "audit_log" FOR EACH STATEMENT EXECUTE FUNCTION tollgate_append_only();
