import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  pgView,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { BUDGET_PERIODS, type BudgetPeriod } from '../budget/periods';
import { REQUEST_STATUSES, type RequestStatus, sqlList, USAGE_SOURCES, type UsageNote, type UsageSource } from '../ledger/statuses';

const money = (name: string) => bigint(name, { mode: 'bigint' });
/** Token counts: bigint, so that no value a backend reports can overflow a column. */
const tokens = (name: string) => bigint(name, { mode: 'number' });
const instant = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Per-key settings read on the request path; every field is optional and defaults in config. */
export interface KeyOptions {
  /** `route` moves an over-long request to the extended model; `reject` answers 400. */
  contextPolicy?: 'route' | 'reject';
  /** Lower `max_tokens` to what fits the window instead of rejecting. */
  shrinkMaxTokens?: boolean;
  /** The completion cap used when a request sends no `max_tokens`. */
  defaultMaxTokens?: number;
  /** With shrinkMaxTokens: the smallest cap worth sending (below it, 429). */
  minMaxTokens?: number;
  /**
   * Admit requests while the database cannot be reached, within the budget this instance last
   * saw for the key (proxy/admit.ts); their rows are written whole when it returns.
   */
  failOpen?: boolean;
  /** Requests per minute. */
  rpm?: number;
  /** Tokens per minute. */
  tpm?: number;
}

export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** The first characters of the key, shown to operators to tell keys apart. */
  prefix: text('prefix').notNull(),
  /** SHA-256 hex of the full key; the key itself is never stored. */
  hash: text('hash').notNull().unique(),
  scopes: text('scopes').array().notNull().default(sql`'{}'::text[]`),
  /** null: every configured model. */
  allowedModels: text('allowed_models').array(),
  options: jsonb('options').$type<KeyOptions>().notNull().default({}),
  /** The team (cost center) billed for this key's usage from now on. */
  teamId: text('team_id').references((): AnyPgColumn => teams.id),
  /** For a `reports` key: the teams whose usage it may read; null: every team (and usage in no team). */
  reportTeams: text('report_teams').array(),
  createdAt: instant('created_at').notNull().defaultNow(),
  expiresAt: instant('expires_at'),
  revokedAt: instant('revoked_at'),
});

/** Operator credentials, stored as hashes (e.g. name `operator`). */
export const adminSecrets = pgTable('admin_secrets', {
  name: text('name').primaryKey(),
  hash: text('hash').notNull(),
  createdAt: instant('created_at').notNull().defaultNow(),
});

/** Effective-dated price versions; a usage row points at the version it was billed with. */
export const prices = pgTable(
  'prices',
  {
    id: serial('id').primaryKey(),
    model: text('model').notNull(),
    promptPer1k: money('prompt_per_1k').notNull(),
    completionPer1k: money('completion_per_1k').notNull(),
    effectiveFrom: instant('effective_from').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (table) => [
    // Unique: two versions effective at the same instant would make "the price at t" ambiguous.
    uniqueIndex('prices_model_effective_from_idx').on(table.model, table.effectiveFrom),
    check('prices_non_negative', sql`${table.promptPer1k} >= 0 AND ${table.completionPer1k} >= 0`),
  ],
);

export const budgets = pgTable(
  'budgets',
  {
    keyId: text('key_id')
      .primaryKey()
      .references(() => apiKeys.id),
    /** Money limit per window in picodollars; null: no money limit. */
    limitCost: money('limit_cost'),
    /** Token limit (prompt + completion) per window; null: no token limit. */
    limitTokens: bigint('limit_tokens', { mode: 'number' }),
    period: text('period').$type<BudgetPeriod>().notNull(),
    /** IANA zone in which day/week/month windows begin. */
    timezone: text('timezone').notNull().default('UTC'),
    softThresholdPct: integer('soft_threshold_pct'),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  (table) => [
    check('budgets_period', sql`${table.period} IN (${sql.raw(sqlList(BUDGET_PERIODS))})`),
    check('budgets_soft_threshold_pct', sql`${table.softThresholdPct} BETWEEN 1 AND 100`),
  ],
);

/** One row per key and window. Invariant while reserving: spent + reserved <= limit. */
export const budgetWindows = pgTable(
  'budget_windows',
  {
    keyId: text('key_id')
      .notNull()
      .references(() => apiKeys.id),
    windowStart: instant('window_start').notNull(),
    windowEnd: instant('window_end').notNull(),
    spentCost: money('spent_cost').notNull().default(sql`0`),
    reservedCost: money('reserved_cost').notNull().default(sql`0`),
    spentTokens: bigint('spent_tokens', { mode: 'number' }).notNull().default(0),
    reservedTokens: bigint('reserved_tokens', { mode: 'number' }).notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.keyId, table.windowStart] })],
);

/**
 * Budget held by one gateway instance for a key's window (TOLLGATE_LEASE_MS): counted in the
 * window's `reserved` like any reservation, spent down by the instance's final rows, and returned
 * when it goes idle, stops, or stops beating (its leases are then released by the others).
 */
export const budgetLeases = pgTable(
  'budget_leases',
  {
    keyId: text('key_id')
      .notNull()
      .references(() => apiKeys.id),
    windowStart: instant('window_start').notNull(),
    instanceId: text('instance_id').notNull(),
    cost: money('cost').notNull().default(sql`0`),
    tokens: bigint('tokens', { mode: 'number' }).notNull().default(0),
    grantedAt: instant('granted_at').notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.keyId, table.windowStart, table.instanceId] })],
);

/** Cost centers: keys belong to at most one; each ledger row records the team it was billed under. */
export const teams = pgTable(
  'teams',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** The finance system's code for it, if any. */
    costCenter: text('cost_center'),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  // Two teams of one name would make a chargeback ambiguous.
  (table) => [uniqueIndex('teams_name_idx').on(table.name)],
);

/**
 * One row per request: `pending` from admission until its final row. Request ids are unique per
 * key (and month). The table is partitioned by month of `started_month` (see the 0003 migration;
 * drizzle does not model partitions), so old months can be detached and archived.
 */
export const usageEvents = pgTable(
  'usage_events',
  {
    requestId: text('request_id').notNull(),
    keyId: text('key_id')
      .notNull()
      .references(() => apiKeys.id),
    /** The key's team at admission: a later move does not take history with it. */
    teamId: text('team_id'),
    /** Allowlisted request tags (`x-tollgate-tags`, the OpenAI `user` field); `{}` when untagged. */
    tags: jsonb('tags').$type<Record<string, string>>().notNull().default({}),
    /** The gateway instance owning the pending row (see gateway_instances); null on Workers. */
    instanceId: text('instance_id'),
    endpoint: text('endpoint').notNull(),
    requestedModel: text('requested_model').notNull(),
    routedModel: text('routed_model'),
    backend: text('backend'),
    status: text('status').$type<RequestStatus>().notNull(),
    stream: boolean('stream').notNull(),
    /** The gateway's own prompt count (what the reservation used). */
    promptTokensEstimated: tokens('prompt_tokens_estimated'),
    maxCompletionTokens: tokens('max_completion_tokens'),
    /** Billed tokens (0 while pending). */
    promptTokens: tokens('prompt_tokens').notNull().default(0),
    completionTokens: tokens('completion_tokens').notNull().default(0),
    /** The gateway's own count of the completion it relayed. */
    completionTokensEstimated: tokens('completion_tokens_estimated'),
    usageSource: text('usage_source').$type<UsageSource>().notNull().default('none'),
    /** Why the gateway's own count was billed instead of the backend's usage (bill.ts). */
    usageNote: text('usage_note').$type<UsageNote>(),
    reservedCost: money('reserved_cost').notNull().default(sql`0`),
    billedCost: money('billed_cost').notNull().default(sql`0`),
    overReservation: boolean('over_reservation').notNull().default(false),
    /** Admitted while the database was unreachable (the key's `failOpen`): no reservation, the row was written whole. */
    admittedFailOpen: boolean('admitted_fail_open').notNull().default(false),
    /** A row written whole whose cost left its budget window over the limit (spent + reserved > limit). */
    overLimit: boolean('over_limit').notNull().default(false),
    priceId: integer('price_id').references(() => prices.id),
    /** The budget window holding this request's reservation; null for unbudgeted keys. */
    budgetWindowStart: instant('budget_window_start'),
    latencyMs: integer('latency_ms'),
    ttftMs: integer('ttft_ms'),
    errorCode: text('error_code'),
    /** Backend attempts this request took (retries on other replicas). */
    attempts: integer('attempts').notNull().default(1),
    /** The replica that served it. */
    replica: text('replica'),
    /** W3C trace context sent to the backend. */
    traceparent: text('traceparent'),
    startedAt: instant('started_at').notNull(),
    /** The UTC month of `started_at`: the partition key. */
    startedMonth: date('started_month', { mode: 'string' }).notNull(),
    finishedAt: instant('finished_at'),
    /** When the row became final (database clock): usage final after a period closed is an adjustment. */
    recordedAt: instant('recorded_at'),
  },
  (table) => [
    primaryKey({ columns: [table.keyId, table.requestId, table.startedMonth] }),
    index('usage_events_pending_idx').on(table.startedAt).where(sql`${table.status} = 'pending'`),
    index('usage_events_key_id_started_at_idx').on(table.keyId, table.startedAt),
    index('usage_events_started_at_idx').on(table.startedAt, table.keyId, table.requestId),
    // Rows that became final after an instant: what a compacted segment has not counted yet (reports).
    index('usage_events_recorded_at_idx').on(table.recordedAt),
    check('usage_events_status', sql`${table.status} IN (${sql.raw(sqlList(REQUEST_STATUSES))})`),
    check('usage_events_usage_source', sql`${table.usageSource} IN (${sql.raw(sqlList(USAGE_SOURCES))})`),
  ],
);

/**
 * The rollup: per team, key, model, status and tag set, per quarter hour (UTC), written in the
 * same transaction as the rows it counts. Every IANA zone's offset is a whole number of quarter
 * hours (India +5:30, Nepal +5:45, DST shifts included), so a report in any zone sums whole
 * buckets and is exact. `team_id` is '' for keys in no team.
 */
export const usageRollup = pgTable(
  'usage_rollup',
  {
    bucketStart: instant('bucket_start').notNull(),
    teamId: text('team_id').notNull().default(''),
    keyId: text('key_id').notNull(),
    model: text('model').notNull(),
    status: text('status').$type<RequestStatus>().notNull(),
    tags: jsonb('tags').$type<Record<string, string>>().notNull().default({}),
    requests: bigint('requests', { mode: 'number' }).notNull().default(0),
    promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull().default(0),
    completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull().default(0),
    /** Picodollars; numeric, so no sum can overflow. */
    cost: numeric('cost', { precision: 38, scale: 0 }).notNull().default('0'),
  },
  (table) => [primaryKey({ columns: [table.bucketStart, table.keyId, table.model, table.status, table.tags, table.teamId] })],
);

/** Daily per key and model (UTC day), summed from usage_rollup: a view, kept for readers of the old table. */
export const usageDaily = pgView('usage_daily', {
  keyId: text('key_id').notNull(),
  model: text('model').notNull(),
  day: date('day', { mode: 'string' }).notNull(),
  requests: bigint('requests', { mode: 'number' }).notNull(),
  rejectedRequests: bigint('rejected_requests', { mode: 'number' }).notNull(),
  promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull(),
  completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull(),
  cost: numeric('cost', { precision: 38, scale: 0 }).notNull(),
}).existing();

/** Gateway instances and their heartbeats: the sweeper settles the pending rows of one that stopped beating. */
export const gatewayInstances = pgTable('gateway_instances', {
  id: text('id').primaryKey(),
  host: text('host').notNull(),
  pid: integer('pid'),
  startedAt: instant('started_at').notNull().defaultNow(),
  heartbeatAt: instant('heartbeat_at').notNull().defaultNow(),
  /** Set on a clean shutdown. */
  stoppedAt: instant('stopped_at'),
});

/** Per key and minute: requests and tokens admitted, for rpm/tpm limits shared by every instance. */
export const rateWindows = pgTable(
  'rate_windows',
  {
    keyId: text('key_id')
      .notNull()
      .references(() => apiKeys.id),
    minuteStart: instant('minute_start').notNull(),
    requests: integer('requests').notNull().default(0),
    tokens: bigint('tokens', { mode: 'number' }).notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.keyId, table.minuteStart] })],
);

/** soft: the threshold crossed; limit: a request refused at the limit; overspend: a row written without reservation left the window over its limit. */
export const ALERT_KINDS = ['soft', 'limit', 'overspend'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** A budget threshold crossed: at most one row per key, window and kind ('soft' or 'limit'). */
export const budgetAlerts = pgTable(
  'budget_alerts',
  {
    id: serial('id').primaryKey(),
    keyId: text('key_id')
      .notNull()
      .references(() => apiKeys.id),
    windowStart: instant('window_start').notNull(),
    kind: text('kind').$type<AlertKind>().notNull(),
    /** Spent + reserved when it was crossed, picodollars (or tokens for a token-only budget). */
    used: bigint('used', { mode: 'bigint' }).notNull(),
    limit: bigint('limit', { mode: 'bigint' }).notNull(),
    unit: text('unit').$type<'usd' | 'tokens'>().notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
    /** When the webhook accepted it; null while undelivered or with no webhook. */
    deliveredAt: instant('delivered_at'),
  },
  (table) => [
    uniqueIndex('budget_alerts_once_idx').on(table.keyId, table.windowStart, table.kind),
    check('budget_alerts_kind', sql`${table.kind} IN (${sql.raw(sqlList(ALERT_KINDS))})`),
  ],
);

/**
 * A closed accounting period (a month in `timezone`). Closing issues one statement per team; the
 * row and its statements never change afterwards (a trigger refuses UPDATE and DELETE).
 */
export const reportPeriods = pgTable('report_periods', {
  /** `yyyy-mm`. */
  period: text('period').primaryKey(),
  timezone: text('timezone').notNull(),
  periodStart: instant('period_start').notNull(),
  periodEnd: instant('period_end').notNull(),
  closedAt: instant('closed_at').notNull().defaultNow(),
  /** `operator`, or the key that closed it. */
  closedBy: text('closed_by').notNull(),
});

/** The kinds of statement line: usage of the statement's own period, or late usage of an earlier closed one. */
export const STATEMENT_LINE_KINDS = ['usage', 'adjustment'] as const;
export type StatementLineKind = (typeof STATEMENT_LINE_KINDS)[number];

/** A team's chargeback statement for a closed period, as issued: immutable, with a hash of its content. */
export const statements = pgTable(
  'statements',
  {
    id: text('id').primaryKey(),
    period: text('period')
      .notNull()
      .references(() => reportPeriods.period),
    /** '' for usage of keys in no team. */
    teamId: text('team_id').notNull(),
    currency: text('currency').notNull().default('USD'),
    requests: bigint('requests', { mode: 'number' }).notNull(),
    promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull(),
    completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull(),
    /** Picodollars, usage and adjustment lines together. */
    cost: numeric('cost', { precision: 38, scale: 0 }).notNull(),
    generatedAt: instant('generated_at').notNull(),
    /** The statement document exactly as issued (lines, totals, names as they were). */
    content: jsonb('content').$type<Record<string, unknown>>().notNull(),
    /** SHA-256 hex of the canonical JSON of `content`. */
    contentHash: text('content_hash').notNull(),
  },
  (table) => [uniqueIndex('statements_period_team_idx').on(table.period, table.teamId)],
);

/**
 * The lines of issued statements, one per key and model (and, for adjustments, per earlier
 * period): what has been booked for each period so far, so late usage is the ledger minus this.
 */
export const statementLines = pgTable(
  'statement_lines',
  {
    statementId: text('statement_id')
      .notNull()
      .references(() => statements.id),
    lineNo: integer('line_no').notNull(),
    kind: text('kind').$type<StatementLineKind>().notNull(),
    /** The period the usage happened in (the statement's own for `usage` lines). */
    usagePeriod: text('usage_period').notNull(),
    teamId: text('team_id').notNull(),
    keyId: text('key_id').notNull(),
    model: text('model').notNull(),
    requests: bigint('requests', { mode: 'number' }).notNull(),
    promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull(),
    completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull(),
    cost: numeric('cost', { precision: 38, scale: 0 }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.statementId, table.lineNo] }),
    index('statement_lines_usage_period_idx').on(table.usagePeriod, table.teamId, table.keyId, table.model),
    check('statement_lines_kind', sql`${table.kind} IN (${sql.raw(sqlList(STATEMENT_LINE_KINDS))})`),
  ],
);

/** What operators (and report exports) did, for the audit log. */
export const AUDIT_ACTIONS = [
  'key.create',
  'key.update',
  'key.revoke',
  'key.rotate',
  'key.move',
  'budget.set',
  'budget.delete',
  'price.add',
  'team.create',
  'team.update',
  'period.close',
  'report.export',
  'config.reload',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Append-only (a trigger refuses UPDATE and DELETE): who did what to which thing, when. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: instant('at').notNull().defaultNow(),
    /** `operator`, or the id of the key that acted. */
    actor: text('actor').notNull(),
    action: text('action').$type<AuditAction>().notNull(),
    /** The id acted on (key, team, model, period, report). */
    target: text('target'),
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
    requestId: text('request_id'),
  },
  (table) => [
    index('audit_log_at_idx').on(table.at),
    check('audit_log_action', sql`${table.action} IN (${sql.raw(sqlList(AUDIT_ACTIONS))})`),
  ],
);

/**
 * Compacted usage: the rollup summed over a segment (a local day of some time zone a report asked
 * for), per team, key, model, status and tag set, counting exactly the rows recorded at or before
 * the segment's `through`. A report adds the rows recorded after it, read from the ledger by
 * `recorded_at`, so a compacted segment is never stale, only incomplete in a way that is known.
 */
export const usageCompactSegments = pgTable(
  'usage_compact_segments',
  {
    segmentStart: instant('segment_start').notNull(),
    segmentEnd: instant('segment_end').notNull(),
    /** usage_compact holds the segment's rows with recorded_at <= through (or null). */
    through: instant('through').notNull(),
    compactedAt: instant('compacted_at').notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.segmentStart, table.segmentEnd] }),
    index('usage_compact_segments_through_idx').on(table.through),
  ],
);

export const usageCompact = pgTable(
  'usage_compact',
  {
    segmentStart: instant('segment_start').notNull(),
    segmentEnd: instant('segment_end').notNull(),
    teamId: text('team_id').notNull().default(''),
    keyId: text('key_id').notNull(),
    model: text('model').notNull(),
    status: text('status').$type<RequestStatus>().notNull(),
    tags: jsonb('tags').$type<Record<string, string>>().notNull().default({}),
    requests: bigint('requests', { mode: 'number' }).notNull(),
    promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull(),
    completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull(),
    cost: numeric('cost', { precision: 38, scale: 0 }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.segmentStart, table.segmentEnd, table.keyId, table.model, table.status, table.tags, table.teamId] }),
  ],
);
