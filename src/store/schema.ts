import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { BudgetPeriod } from '../budget/window';

const money = (name: string) => bigint(name, { mode: 'bigint' });
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

export { BUDGET_PERIODS, type BudgetPeriod } from '../budget/window';

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
    check('budgets_period', sql`${table.period} IN ('day', 'week', 'month', 'total')`),
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

export const REQUEST_STATUSES = [
  'pending',
  'ok',
  'upstream_error',
  'client_disconnected',
  'timeout',
  'rejected',
  'incomplete',
  'gateway_error',
] as const;

/** One row per request id: `pending` from admission until settled (or swept). */
export const usageEvents = pgTable(
  'usage_events',
  {
    requestId: text('request_id').primaryKey(),
    keyId: text('key_id')
      .notNull()
      .references(() => apiKeys.id),
    endpoint: text('endpoint').notNull(),
    requestedModel: text('requested_model').notNull(),
    routedModel: text('routed_model'),
    backend: text('backend'),
    status: text('status').notNull(),
    stream: boolean('stream').notNull(),
    /** The gateway's own prompt count (what the reservation used). */
    promptTokensEstimated: integer('prompt_tokens_estimated'),
    maxCompletionTokens: integer('max_completion_tokens'),
    /** Billed tokens (0 while pending). */
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
    completionTokensEstimated: integer('completion_tokens_estimated'),
    usageSource: text('usage_source').$type<'upstream' | 'gateway' | 'none'>().notNull().default('none'),
    reservedCost: money('reserved_cost').notNull().default(sql`0`),
    billedCost: money('billed_cost').notNull().default(sql`0`),
    overReservation: boolean('over_reservation').notNull().default(false),
    /** Admitted while the database was unreachable (the key's `failOpen`): no reservation, the row was written whole at settle. */
    admittedFailOpen: boolean('admitted_fail_open').notNull().default(false),
    /** A fail-open row whose cost left its budget window over the limit (spent + reserved > limit). */
    overLimit: boolean('over_limit').notNull().default(false),
    priceId: integer('price_id').references(() => prices.id),
    /** The budget window holding this request's reservation; null for unbudgeted keys. */
    budgetWindowStart: instant('budget_window_start'),
    latencyMs: integer('latency_ms'),
    ttftMs: integer('ttft_ms'),
    errorCode: text('error_code'),
    startedAt: instant('started_at').notNull(),
    finishedAt: instant('finished_at'),
  },
  (table) => [
    index('usage_events_status_started_at_idx').on(table.status, table.startedAt),
    index('usage_events_key_id_started_at_idx').on(table.keyId, table.startedAt),
    check(
      'usage_events_status',
      sql`${table.status} IN ('pending', 'ok', 'upstream_error', 'client_disconnected', 'timeout', 'rejected', 'incomplete', 'gateway_error')`,
    ),
    check('usage_events_usage_source', sql`${table.usageSource} IN ('upstream', 'gateway', 'none')`),
  ],
);

/** Daily rollup per key and served model (UTC day of `started_at`), written with each settle. */
export const usageDaily = pgTable(
  'usage_daily',
  {
    keyId: text('key_id').notNull(),
    model: text('model').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    /** Every final row, rejected ones included. */
    requests: bigint('requests', { mode: 'number' }).notNull().default(0),
    /** Of `requests`, those refused before admission (never billed). */
    rejectedRequests: bigint('rejected_requests', { mode: 'number' }).notNull().default(0),
    promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull().default(0),
    completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull().default(0),
    cost: money('cost').notNull().default(sql`0`),
  },
  (table) => [primaryKey({ columns: [table.keyId, table.model, table.day] })],
);

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

/** A budget threshold crossed: at most one row per key, window and kind ('soft' or 'limit'). */
export const budgetAlerts = pgTable(
  'budget_alerts',
  {
    id: serial('id').primaryKey(),
    keyId: text('key_id')
      .notNull()
      .references(() => apiKeys.id),
    windowStart: instant('window_start').notNull(),
    kind: text('kind').$type<'soft' | 'limit'>().notNull(),
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
    check('budget_alerts_kind', sql`${table.kind} IN ('soft', 'limit')`),
  ],
);
