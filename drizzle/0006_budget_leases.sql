CREATE TABLE "budget_leases" (
	"key_id" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"instance_id" text NOT NULL,
	"cost" bigint DEFAULT 0 NOT NULL,
	"tokens" bigint DEFAULT 0 NOT NULL,
	"granted_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "budget_leases_key_id_window_start_instance_id_pk" PRIMARY KEY("key_id","window_start","instance_id")
);
--> statement-breakpoint
ALTER TABLE "budget_leases" ADD CONSTRAINT "budget_leases_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;