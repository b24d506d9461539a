import { pastSoftThreshold } from '../budget';
import type { Store } from '../store/db';
import { formatUsd } from '../pricing';
import { markAlertDelivered, recordAlert, type AlertRecord } from '../store/alerts';
import type { BudgetState } from '../usage/types';

export interface AlertOptions {
  store: Store;
  webhookUrl?: string | undefined;
  fetch: typeof fetch;
  log: (line: string) => void;
  now: () => Date;
  /** Keeps a runtime alive for the delivery (Workers' waitUntil). */
  waitUntil?: (work: Promise<unknown>) => void;
  retries?: number;
  retryDelayMs?: number;
}

/** The public form of an alert: what GET /admin/alerts and the webhook carry. */
export function alertView(alert: AlertRecord) {
  const amount = (value: bigint) => (alert.unit === 'usd' ? formatUsd(value) : value.toString());
  return {
    id: alert.id,
    keyId: alert.keyId,
    kind: alert.kind,
    periodStart: alert.windowStart.toISOString(),
    used: amount(alert.used),
    limit: amount(alert.limit),
    unit: alert.unit,
    createdAt: alert.createdAt.toISOString(),
    deliveredAt: alert.deliveredAt?.toISOString() ?? null,
  };
}

/**
 * Budget alerts: crossing a key's soft threshold, or reaching its limit, is recorded once per
 * window (a unique index makes that true across instances) and, when a webhook is configured,
 * POSTed to it with retries. Nothing here is awaited by a request.
 */
export class BudgetAlerts {
  /** Alerts this instance already knows are recorded, so a hot key does not query again. */
  private readonly known = new Set<string>();

  constructor(private readonly options: AlertOptions) {}

  /** After an admission (or a refusal for quota) with the window's state. */
  note(keyId: string, state: BudgetState, refused: boolean): void {
    const kind = refused ? 'limit' : pastSoftThreshold(state, state.softThresholdPct) ? 'soft' : null;
    if (!kind) return;
    const id = `${keyId}|${state.windowStart.getTime()}|${kind}`;
    if (this.known.has(id)) return;
    this.known.add(id);
    if (this.known.size > 100_000) this.known.clear();
    const usd = state.limitCost !== null;
    const work = recordAlert(this.options.store, {
      keyId,
      windowStart: state.windowStart,
      kind,
      used: usd ? state.spentCost + state.reservedCost : BigInt(state.spentTokens + state.reservedTokens),
      limit: usd ? state.limitCost! : BigInt(state.limitTokens ?? 0),
      unit: usd ? 'usd' : 'tokens',
    })
      .then((alert) => (alert && this.options.webhookUrl ? this.deliver(alert) : undefined))
      .catch((error: unknown) => {
        this.known.delete(id);
        this.options.log(`tollgate: could not record a ${kind} budget alert for ${keyId}: ${(error as Error).message}`);
      });
    this.options.waitUntil?.(work);
  }

  private async deliver(alert: AlertRecord): Promise<void> {
    const retries = this.options.retries ?? 5;
    let delay = this.options.retryDelayMs ?? 500;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        const response = await this.options.fetch(this.options.webhookUrl!, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: `budget.${alert.kind}`, alert: alertView(alert) }),
          signal: AbortSignal.timeout(10_000),
        });
        if (response.ok) {
          await markAlertDelivered(this.options.store, alert.id, this.options.now());
          return;
        }
      } catch {
        // retried below
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30_000);
    }
    this.options.log(`tollgate: the alert webhook did not accept alert ${alert.id} after ${retries + 1} tries`);
  }
}
