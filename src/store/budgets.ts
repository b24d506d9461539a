import { and, desc, eq, sql } from 'drizzle-orm';
import type { Money } from '../pricing';
import type { Executor } from './db';
import { budgets, budgetWindows, type BudgetPeriod } from './schema';

export type BudgetRecord = typeof budgets.$inferSelect;
export type BudgetWindowRecord = typeof budgetWindows.$inferSelect;

export interface BudgetSettings {
  /** Picodollars per window; null: no money limit. */
  limitCost: Money | null;
  /** Tokens (prompt + completion) per window; null: no token limit. */
  limitTokens: number | null;
  period: BudgetPeriod;
  /** IANA zone for day/week/month boundaries (default UTC). */
  timezone?: string;
  softThresholdPct?: number | null;
}

/**
 * Sets or replaces a key's budget. A new limit applies to the next admission; what the current
 * window already spent or reserved stays.
 */
export async function setBudget(ex: Executor, keyId: string, settings: BudgetSettings): Promise<BudgetRecord> {
  const values = {
    limitCost: settings.limitCost,
    limitTokens: settings.limitTokens,
    period: settings.period,
    timezone: settings.timezone ?? 'UTC',
    softThresholdPct: settings.softThresholdPct ?? null,
    updatedAt: sql`now()`,
  };
  const [row] = await ex.db
    .insert(budgets)
    .values({ keyId, ...values })
    .onConflictDoUpdate({ target: budgets.keyId, set: values })
    .returning();
  return row!;
}

export async function getBudget(ex: Executor, keyId: string): Promise<BudgetRecord | null> {
  const [row] = await ex.db.select().from(budgets).where(eq(budgets.keyId, keyId)).limit(1);
  return row ?? null;
}

/** Removes a key's budget: it is unlimited from the next admission on. True when there was one. */
export async function clearBudget(ex: Executor, keyId: string): Promise<boolean> {
  const rows = await ex.db.delete(budgets).where(eq(budgets.keyId, keyId)).returning({ keyId: budgets.keyId });
  return rows.length > 0;
}

export async function getBudgetWindow(ex: Executor, keyId: string, windowStart: Date): Promise<BudgetWindowRecord | null> {
  const [row] = await ex.db
    .select()
    .from(budgetWindows)
    .where(and(eq(budgetWindows.keyId, keyId), eq(budgetWindows.windowStart, windowStart)))
    .limit(1);
  return row ?? null;
}

/** A key's windows, newest first. */
export async function listBudgetWindows(ex: Executor, keyId: string, limit = 50): Promise<BudgetWindowRecord[]> {
  return ex.db.select().from(budgetWindows).where(eq(budgetWindows.keyId, keyId)).orderBy(desc(budgetWindows.windowStart)).limit(limit);
}
