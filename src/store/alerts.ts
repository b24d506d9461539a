import { and, asc, desc, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import type { Executor } from './db';
import { budgetAlerts } from './schema';

export type AlertRecord = typeof budgetAlerts.$inferSelect;

export interface NewAlert {
  keyId: string;
  windowStart: Date;
  kind: 'soft' | 'limit';
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

/** Rate windows older than `before` are of no further use. */
export async function pruneRateWindows(ex: Executor, before: Date): Promise<void> {
  await ex.rows(sql`DELETE FROM rate_windows WHERE minute_start < ${before.toISOString()}::timestamptz`);
}
