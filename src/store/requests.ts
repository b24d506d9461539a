import { and, desc, eq } from 'drizzle-orm';
import type { RequestStatus, UsageNote, UsageSource } from '../ledger/statuses';
import { formatUsd } from '../pricing';
import type { Executor } from './db';
import { prices, usageEvents } from './schema';

/** One ledger row as the API shows it: money as decimal USD strings. */
export interface RequestView {
  requestId: string;
  keyId: string;
  teamId: string | null;
  tags: Record<string, string>;
  instanceId: string | null;
  endpoint: string;
  requestedModel: string;
  routedModel: string | null;
  backend: string | null;
  status: RequestStatus;
  stream: boolean;
  promptTokensEstimated: number | null;
  maxCompletionTokens: number | null;
  promptTokens: number;
  completionTokens: number;
  completionTokensEstimated: number | null;
  usageSource: UsageSource;
  /** Why the gateway's own count was billed instead of the backend's usage. */
  usageNote: UsageNote | null;
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
  attempts: number;
  replica: string | null;
  traceparent: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  recordedAt: Date | null;
}

/** The rows holding a request id, newest first: one per key that used it (ids are per key). */
export async function findRequests(ex: Executor, requestId: string, keyId?: string): Promise<RequestView[]> {
  const rows = await ex.db
    .select({ event: usageEvents, price: prices })
    .from(usageEvents)
    .leftJoin(prices, eq(prices.id, usageEvents.priceId))
    .where(
      keyId === undefined ? eq(usageEvents.requestId, requestId) : and(eq(usageEvents.requestId, requestId), eq(usageEvents.keyId, keyId)),
    )
    .orderBy(desc(usageEvents.startedAt))
    .limit(50);
  return rows.map(({ event, price }) => {
    const { priceId: _priceId, startedMonth: _month, reservedCost, billedCost, ...rest } = event;
    return {
      ...rest,
      reservedCost: formatUsd(reservedCost),
      billedCost: formatUsd(billedCost),
      price: price
        ? {
            id: price.id,
            promptPer1k: formatUsd(price.promptPer1k),
            completionPer1k: formatUsd(price.completionPer1k),
            effectiveFrom: price.effectiveFrom,
          }
        : null,
    };
  });
}

/** The newest row holding a request id (of one key, when given), or null. */
export async function getRequest(ex: Executor, requestId: string, keyId?: string): Promise<RequestView | null> {
  return (await findRequests(ex, requestId, keyId))[0] ?? null;
}
