import { and, asc, desc, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import type { Executor } from './db';
import { type AlertKind, budgetAlerts } from './schema';

export type AlertRecord = typeof budgetAlerts.$inferSelect;

export interface NewAlert {
  keyId: string;
  windowStart: Date;
  kind: AlertKind;
  used: bigint;
  limit: bigint;
  unit: 'usd' | 'tokens';
}

/** Records an alert once per key, window and kind; null when it was already recorded (by any instance). */
export async function recordAlert(ex: Executor, alert: NewAlert): Promise<AlertRecord | null> {
  const [row] = await ex.db.insert(budgetAlerts).values(alert).onConflictDoNothing().returning();
  return row ?? null;
}

export async function markAlertDelivered(ex: Executor, id: number, at: Date): Promise<void> {
  await ex.db.update(budgetAlerts).set({ deliveredAt: at }).where(eq(budgetAlerts.id, id));
}

/** Alerts never delivered, created in [after, before), oldest first. */
export async function listUndeliveredAlerts(ex: Executor, after: Date, before: Date, limit: number): Promise<AlertRecord[]> {
  return ex.db
    .select()
    .from(budgetAlerts)
    .where(and(isNull(budgetAlerts.deliveredAt), gt(budgetAlerts.createdAt, after), lt(budgetAlerts.createdAt, before)))
    .orderBy(asc(budgetAlerts.createdAt), asc(budgetAlerts.id))
    .limit(limit);
}

/** Newest first; one key or all. */
export async function listAlerts(ex: Executor, keyId?: string, limit = 500): Promise<AlertRecord[]> {
  return ex.db
    .select()
    .from(budgetAlerts)
    .where(keyId === undefined ? undefined : eq(budgetAlerts.keyId, keyId))
    .orderBy(desc(budgetAlerts.createdAt), desc(budgetAlerts.id))
    .limit(limit);
}

/**
 * An `overspend` alert for a key's window, from the window and budget as they are now (spent +
 * reserved against the money limit, else the token limit); null when already recorded.
 */
export async function recordOverspendAlert(ex: Executor, keyId: string, windowStart: Date): Promise<AlertRecord | null> {
  const [row] = await ex.rows<{ id: number }>(sql`
    INSERT INTO budget_alerts (key_id, window_start, kind, used, "limit", unit)
    SELECT w.key_id, w.window_start, 'overspend',
      CASE WHEN b.limit_cost IS NOT NULL THEN w.spent_cost + w.reserved_cost ELSE w.spent_tokens + w.reserved_tokens END,
      coalesce(b.limit_cost, b.limit_tokens, 0),
      CASE WHEN b.limit_cost IS NOT NULL THEN 'usd' ELSE 'tokens' END
    FROM budget_windows w JOIN budgets b ON b.key_id = w.key_id
    WHERE w.key_id = ${keyId} AND w.window_start = ${windowStart.toISOString()}::timestamptz
    ON CONFLICT (key_id, window_start, kind) DO NOTHING
    RETURNING id`);
  if (!row) return null;
  const [alert] = await ex.db.select().from(budgetAlerts).where(eq(budgetAlerts.id, row.id)).limit(1);
  return alert ?? null;
}
