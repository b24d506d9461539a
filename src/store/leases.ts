import { sql } from 'drizzle-orm';
import { decideGrant, type LeaseAsk, type LeasedWindow } from '../budget/lease';
import type { Price } from '../pricing';
import type { Executor, Store } from './db';
import { epochMs, windowBounds } from './windows';

// Budget leases (TOLLGATE_LEASE_MS): an instance takes a slice of a key's window into its own
// lease row, counted in the window's `reserved` like any reservation, and admits requests against
// it in memory. The instance's final rows spend the lease down (store/record.ts); what it does not
// use goes back when it is idle, when it stops, or, when it stops beating, by the others' sweep.
// Every statement that touches both rows locks the lease row first, then the window row.

/** The key as a lease grant read it: what admission would have checked in its statement. */
export interface LeasedKey {
  teamId: string | null;
  scopes: readonly string[];
  allowedModels: readonly string[] | null;
  /** Rate limits are counted per request in the database: a key with either is not leased. */
  rateLimited: boolean;
}

export type LeaseGrant =
  | { found: false }
  | {
      found: true;
      key: LeasedKey;
      /** The model's price in force at the instant asked; null: none. */
      price: Price | null;
      /** When the next price of that model takes effect (epoch ms), if one is set. */
      priceUntilMs: number | null;
      /** Null: the key has no budget (nothing is leased, nothing to count). */
      window: LeasedWindow | null;
      /** Added to this instance's lease; null when `min` did not fit (the window is unchanged). */
      granted: { cost: bigint; tokens: number } | null;
    };

interface KeyRow extends Record<string, unknown> {
  team_id: string | null;
  scopes: string[];
  allowed_models: string[] | null;
  rate_limited: boolean;
  price_id: number | null;
  price_model: string | null;
  prompt_per_1k: string | null;
  completion_per_1k: string | null;
  effective_from_ms: number | null;
  next_price_ms: number | null;
  limit_cost: string | null;
  limit_tokens: string | null;
  soft_threshold_pct: number | null;
  window_start: string | null;
  window_end: string | null;
  window_start_ms: number | null;
  window_end_ms: number | null;
}

interface WindowRow extends Record<string, unknown> {
  spent_cost: string;
  reserved_cost: string;
  spent_tokens: string;
  reserved_tokens: string;
}

/**
 * Reads the key, the model's price and the key's window as admission would, and adds to this
 * instance's lease what `ask` decides once it has seen them, under the window's limit: one
 * transaction, the window row locked while the grant is decided (as admission locks it).
 */
export async function grantLease(
  store: Store,
  request: { keyId: string; instanceId: string; model: string; at: Date },
  ask: (seen: { price: Price; window: LeasedWindow }) => LeaseAsk,
): Promise<LeaseGrant> {
  const at = request.at.toISOString();
  return store.transaction(async (tx) => {
    const [row] = await tx.rows<KeyRow>(sql`
      WITH the_key AS (
        SELECT k.id, k.team_id, k.scopes, k.allowed_models,
          (k.options->>'rpm') IS NOT NULL OR (k.options->>'tpm') IS NOT NULL AS rate_limited
        FROM api_keys k
        WHERE k.id = ${request.keyId} AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ${at}::timestamptz)
      ),
      price AS (
        SELECT p.id, p.model, p.prompt_per_1k, p.completion_per_1k, p.effective_from FROM prices p
        WHERE p.model = ${request.model} AND p.effective_from <= ${at}::timestamptz
        ORDER BY p.effective_from DESC LIMIT 1
      ),
      budget AS (
        SELECT b.limit_cost, b.limit_tokens, b.soft_threshold_pct, ${windowBounds(sql`${at}::timestamptz`)}
        FROM budgets b WHERE b.key_id = (SELECT id FROM the_key)
      )
      SELECT k.team_id, k.scopes, k.allowed_models, k.rate_limited,
        price.id AS price_id, price.model AS price_model, price.prompt_per_1k::text AS prompt_per_1k,
        price.completion_per_1k::text AS completion_per_1k, ${epochMs(sql`price.effective_from`)} AS effective_from_ms,
        (SELECT ${epochMs(sql`min(n.effective_from)`)} FROM prices n WHERE n.model = ${request.model} AND n.effective_from > ${at}::timestamptz) AS next_price_ms,
        budget.limit_cost::text AS limit_cost, budget.limit_tokens::text AS limit_tokens, budget.soft_threshold_pct,
        budget.window_start::text AS window_start, budget.window_end::text AS window_end,
        ${epochMs(sql`budget.window_start`)} AS window_start_ms, ${epochMs(sql`budget.window_end`)} AS window_end_ms
      FROM the_key k LEFT JOIN price ON true LEFT JOIN budget ON true`);
    if (!row) return { found: false };
    const key: LeasedKey = {
      teamId: row.team_id,
      scopes: row.scopes,
      allowedModels: row.allowed_models,
      rateLimited: row.rate_limited,
    };
    const price: Price | null =
      row.price_id === null
        ? null
        : {
            id: row.price_id,
            model: row.price_model!,
            promptPer1k: BigInt(row.prompt_per_1k!),
            completionPer1k: BigInt(row.completion_per_1k!),
            effectiveFrom: new Date(Number(row.effective_from_ms)),
          };
    const priceUntilMs = row.next_price_ms === null ? null : Number(row.next_price_ms);
    if (!price || key.rateLimited || row.window_start_ms === null)
      return { found: true, key, price, priceUntilMs, window: null, granted: null };

    // Lease row first, then the window row (the order every statement on both keeps).
    await tx.rows(sql`
      INSERT INTO budget_leases AS l (key_id, window_start, instance_id) VALUES (${request.keyId}, ${row.window_start}::timestamptz, ${request.instanceId})
      ON CONFLICT (key_id, window_start, instance_id) DO UPDATE SET granted_at = l.granted_at`);
    const [seen] = await tx.rows<WindowRow>(sql`
      INSERT INTO budget_windows AS w (key_id, window_start, window_end) VALUES (${request.keyId}, ${row.window_start}::timestamptz, ${row.window_end}::timestamptz)
      ON CONFLICT (key_id, window_start) DO UPDATE SET window_end = w.window_end
      RETURNING w.spent_cost::text AS spent_cost, w.reserved_cost::text AS reserved_cost,
        w.spent_tokens::text AS spent_tokens, w.reserved_tokens::text AS reserved_tokens`);
    const window: LeasedWindow = {
      windowStart: new Date(Number(row.window_start_ms)),
      windowEnd: new Date(Number(row.window_end_ms)),
      softThresholdPct: row.soft_threshold_pct,
      limitCost: row.limit_cost === null ? null : BigInt(row.limit_cost),
      limitTokens: row.limit_tokens === null ? null : Number(row.limit_tokens),
      spentCost: BigInt(seen!.spent_cost),
      reservedCost: BigInt(seen!.reserved_cost),
      spentTokens: Number(seen!.spent_tokens),
      reservedTokens: Number(seen!.reserved_tokens),
    };
    const granted = decideGrant(window, ask({ price, window }));
    if (granted && (granted.cost > 0n || granted.tokens > 0)) {
      await tx.rows(sql`
        UPDATE budget_leases SET cost = cost + ${granted.cost.toString()}::bigint, tokens = tokens + ${granted.tokens}::bigint, granted_at = now()
        WHERE key_id = ${request.keyId} AND window_start = ${row.window_start}::timestamptz AND instance_id = ${request.instanceId}`);
      await tx.rows(sql`
        UPDATE budget_windows SET reserved_cost = reserved_cost + ${granted.cost.toString()}::bigint,
          reserved_tokens = reserved_tokens + ${granted.tokens}::bigint
        WHERE key_id = ${request.keyId} AND window_start = ${row.window_start}::timestamptz`);
      window.reservedCost += granted.cost;
      window.reservedTokens += granted.tokens;
    }
    return { found: true, key, price, priceUntilMs, window, granted };
  });
}

/** Gives back up to `cost` and `tokens` of this instance's lease on a window (what it holds unused). */
export async function returnLease(
  store: Store,
  lease: { keyId: string; windowStart: Date; instanceId: string; cost: bigint; tokens: number },
): Promise<void> {
  await store.transaction(async (tx) => {
    const [held] = await tx.rows<{ cost: string; tokens: string }>(sql`
      SELECT cost::text AS cost, tokens::text AS tokens FROM budget_leases
      WHERE key_id = ${lease.keyId} AND window_start = ${lease.windowStart.toISOString()}::timestamptz AND instance_id = ${lease.instanceId}
      FOR UPDATE`);
    if (!held) return;
    const cost = [BigInt(held.cost), lease.cost].reduce((a, b) => (a < b ? a : b));
    const tokens = Math.min(Number(held.tokens), lease.tokens);
    await tx.rows(sql`
      UPDATE budget_leases SET cost = cost - ${cost.toString()}::bigint, tokens = tokens - ${tokens}::bigint
      WHERE key_id = ${lease.keyId} AND window_start = ${lease.windowStart.toISOString()}::timestamptz AND instance_id = ${lease.instanceId}`);
    await tx.rows(sql`
      UPDATE budget_windows SET reserved_cost = reserved_cost - ${cost.toString()}::bigint, reserved_tokens = reserved_tokens - ${tokens}::bigint
      WHERE key_id = ${lease.keyId} AND window_start = ${lease.windowStart.toISOString()}::timestamptz`);
  });
}

/**
 * Releases whole leases: of one instance (its clean stop, after its last final rows are written),
 * or of every instance silent for `silentMs` by the database's clock, or stopped (nothing it holds will be
 * written any more). Their amounts leave the windows' `reserved`. Answers how many were released.
 */
export async function releaseLeases(ex: Executor, of: { instanceId: string } | { silentMs: number }): Promise<number> {
  const which =
    'instanceId' in of
      ? sql`l.instance_id = ${of.instanceId}`
      : sql`NOT EXISTS (SELECT 1 FROM gateway_instances i
              WHERE i.id = l.instance_id AND i.stopped_at IS NULL AND i.heartbeat_at >= now() - make_interval(secs => ${of.silentMs / 1000}::float8))`;
  const [row] = await ex.rows<{ released: number }>(sql`
    WITH gone AS (
      DELETE FROM budget_leases l WHERE ${which}
      RETURNING l.key_id, l.window_start, l.cost, l.tokens
    ),
    per_window AS (
      SELECT key_id, window_start, sum(cost)::bigint AS cost, sum(tokens)::bigint AS tokens FROM gone GROUP BY key_id, window_start
    ),
    windows AS (
      UPDATE budget_windows w SET reserved_cost = w.reserved_cost - p.cost, reserved_tokens = w.reserved_tokens - p.tokens
      FROM per_window p WHERE w.key_id = p.key_id AND w.window_start = p.window_start
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone)::int AS released, (SELECT count(*) FROM windows)::int AS windows`);
  return row?.released ?? 0;
}
