ALTER TABLE "usage_events" ADD COLUMN "admitted_fail_open" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "over_limit" boolean DEFAULT false NOT NULL;