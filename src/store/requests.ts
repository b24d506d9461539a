import { eq } from 'drizzle-orm';
import { formatUsd } from '../pricing';
import type { Executor } from './db';
import { prices, usageEvents } from './schema';

/** One ledger row as the API shows it: money as decimal USD strings. */
export interface RequestView {
  requestId: string;
  keyId: string;
  endpoint: string;
  requestedModel: string;
  routedModel: string | null;
  backend: string | null;
  status: string;
  stream: boolean;
  promptTokensEstimated: number | null;
  maxCompletionTokens: number | null;
  promptTokens: number;
  completionTokens: number;
  completionTokensEstimated: number | null;
  usageSource: 'upstream' | 'gateway' | 'none';
  reservedCost: string;
  billedCost: string;
  overReservation: boolean;
  /** Admitted while the database was unreachable (the key's `failOpen`); the row was written whole at settle. */
  admittedFailOpen: boolean;
  /** A fail-open row whose cost left its budget window over the limit. */
  overLimit: boolean;
  price: { id: number; promptPer1k: string; completionPer1k: string; effectiveFrom: Date } | null;
  budgetWindowStart: Date | null;
  latencyMs: number | null;
  ttftMs: number | null;
  errorCode: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

export async function getRequest(ex: Executor, requestId: string): Promise<RequestView | null> {
  const [row] = await ex.db
    .select({ event: usageEvents, price: prices })
    .from(usageEvents)
    .leftJoin(prices, eq(prices.id, usageEvents.priceId))
    .where(eq(usageEvents.requestId, requestId))
    .limit(1);
  if (!row) return null;
  const { event, price } = row;
  const { priceId: _priceId, reservedCost, billedCost, ...rest } = event;
  return {
    ...rest,
    reservedCost: formatUsd(reservedCost),
    billedCost: formatUsd(billedCost),
    price: price
      ? { id: price.id, promptPer1k: formatUsd(price.promptPer1k), completionPer1k: formatUsd(price.completionPer1k), effectiveFrom: price.effectiveFrom }
      : null,
  };
}
