import { pastSoftThreshold } from '../budget';
import type { Config } from '../config';
import type { BudgetState } from '../ledger';
import { formatUsd } from '../pricing';
import { type AlertRecord, listUndeliveredAlerts, markAlertDelivered, recordAlert, recordOverspendAlert } from '../store/alerts';
import type { Store } from '../store/db';
import { describeError } from '../store/errors';

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

/** Budget alerts on `store`, posted to the config's webhook with the platform's fetch. */
export function alertsFor(store: Store, config: Config, log: (line: string) => void): BudgetAlerts {
  return new BudgetAlerts({
    store,
    webhookUrl: config.gateway.alertWebhookUrl,
    fetch: (input, init) => fetch(input, init),
    log,
    now: () => new Date(),
  });
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
        this.options.log(`tollgate: could not record a ${kind} budget alert for ${keyId}: ${describeError(error)}`);
      });
    this.options.waitUntil?.(work);
  }

  /**
   * A row written without a reservation (admitted while the database was away, or an admission
   * that was lost) left its window over the limit: recorded once per key and window as an
   * `overspend` alert, and posted like the others.
   */
  overspent(rows: readonly { keyId: string; windowStart: Date }[]): void {
    for (const row of rows) {
      const id = `${row.keyId}|${row.windowStart.getTime()}|overspend`;
      if (this.known.has(id)) continue;
      this.known.add(id);
      const work = recordOverspendAlert(this.options.store, row.keyId, row.windowStart)
        .then((alert) => (alert && this.options.webhookUrl ? this.deliver(alert) : undefined))
        .catch((error: unknown) => {
          this.known.delete(id);
          this.options.log(`tollgate: could not record an overspend alert for ${row.keyId}: ${describeError(error)}`);
        });
      this.options.waitUntil?.(work);
    }
  }

  /**
   * Posts the alerts whose delivery never succeeded: the webhook was down past the retries, the
   * process restarted, or a Worker's waitUntil ended first. The sweeper calls it on Node, the cron
   * on Workers. Only alerts older than `olderThanMs` (so not ones an instance is still retrying)
   * and younger than `maxAgeMs`. Delivery is at least once: receivers dedupe by `alert.id`.
   */
  async redeliver(
    options: { olderThanMs?: number; maxAgeMs?: number; limit?: number } = {},
  ): Promise<{ delivered: number; failed: number }> {
    if (!this.options.webhookUrl) return { delivered: 0, failed: 0 };
    const now = this.options.now().getTime();
    const before = new Date(now - (options.olderThanMs ?? 5 * 60_000));
    const after = new Date(now - (options.maxAgeMs ?? 7 * 24 * 3_600_000));
    const pending = await listUndeliveredAlerts(this.options.store, after, before, options.limit ?? 20);
    let delivered = 0;
    for (const alert of pending) if (await this.post(alert)) delivered++;
    return { delivered, failed: pending.length - delivered };
  }

  private async deliver(alert: AlertRecord): Promise<void> {
    const retries = this.options.retries ?? 5;
    let delay = this.options.retryDelayMs ?? 500;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (await this.post(alert)) return;
      if (attempt === retries) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30_000);
    }
    this.options.log(
      `tollgate: the alert webhook did not accept alert ${alert.id} after ${retries + 1} tries; the sweeper tries again later`,
    );
  }

  /** One attempt; true once the webhook accepted it and it is marked delivered. */
  private async post(alert: AlertRecord): Promise<boolean> {
    try {
      const response = await this.options.fetch(this.options.webhookUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: `budget.${alert.kind}`, alert: alertView(alert) }),
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) return false;
      await markAlertDelivered(this.options.store, alert.id, this.options.now());
      return true;
    } catch {
      return false;
    }
  }
}
