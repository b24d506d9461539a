import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { BudgetAlerts } from '../../../src/alerts';
import type { BudgetState } from '../../../src/ledger';
import { listAlerts } from '../../../src/store/alerts';
import { createKey } from '../../../src/store/keys';
import { databases } from '../support/databases';

/** A webhook receiver that refuses (503) until told to accept, and keeps every body it saw. */
async function startWebhook() {
  const hook = {
    accept: false,
    seen: [] as { accepted: boolean; body: { type: string; alert: { id: number; keyId: string } } }[],
    url: '',
    server: null as Server | null,
  };
  hook.server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      hook.seen.push({ accepted: hook.accept, body: JSON.parse(body) });
      res.writeHead(hook.accept ? 204 : 503).end();
    });
  });
  await new Promise<void>((resolve) => hook.server!.listen(0, '127.0.0.1', resolve));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/alerts`;
  return hook;
}

const crossedSoftThreshold: BudgetState = {
  windowStart: new Date('2026-11-01T00:00:00Z'),
  softThresholdPct: 80,
  limitCost: 1_000_000n,
  limitTokens: null,
  spentCost: 850_000n,
  reservedCost: 0n,
  spentTokens: 0,
  reservedTokens: 0,
  remainingCost: 150_000n,
  remainingTokens: null,
};

describe.each(databases)('alert webhook redelivery on $name', (database) => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  test('an alert the webhook refused through every retry is posted again by a later sweep, once, and marked delivered', async () => {
    const store = await database.open();
    cleanup.push(() => store.close());
    const hook = await startWebhook();
    cleanup.push(() => new Promise((resolve) => hook.server!.close(resolve)));
    await createKey(store, { id: 'key_redeliver', name: 'redeliver', prefix: 'tg_redel', hash: 'ab'.repeat(32), scopes: ['proxy'] });

    const options = { store, webhookUrl: hook.url, fetch, log: () => {} };
    const instance = new BudgetAlerts({ ...options, now: () => new Date(), retries: 1, retryDelayMs: 10 });
    instance.note('key_redeliver', crossedSoftThreshold, false);
    for (let tries = 0; hook.seen.length < 2 && tries < 200; tries++) await new Promise((r) => setTimeout(r, 25));
    expect(hook.seen.map((s) => s.accepted)).toEqual([false, false]);
    await new Promise((r) => setTimeout(r, 50));
    const [recorded] = await listAlerts(store, 'key_redeliver');
    expect(recorded).toMatchObject({ kind: 'soft', deliveredAt: null });

    hook.accept = true;
    // Too fresh: an instance may still be retrying it, so a sweep now leaves it alone.
    expect(await instance.redeliver()).toEqual({ delivered: 0, failed: 0 });
    expect(hook.seen).toHaveLength(2);

    // Ten minutes on, another instance's sweep (or the one after a restart) posts it.
    const later = new BudgetAlerts({ ...options, now: () => new Date(Date.now() + 10 * 60_000) });
    expect(await later.redeliver()).toEqual({ delivered: 1, failed: 0 });
    expect(hook.seen).toHaveLength(3);
    expect(hook.seen[2]).toMatchObject({
      accepted: true,
      body: { type: 'budget.soft', alert: { id: recorded!.id, keyId: 'key_redeliver' } },
    });
    const [delivered] = await listAlerts(store, 'key_redeliver');
    expect(delivered!.deliveredAt).not.toBeNull();

    expect(await later.redeliver()).toEqual({ delivered: 0, failed: 0 });
    expect(hook.seen).toHaveLength(3);
  });

  test('while the webhook keeps refusing, a sweep reports the alert as still failing and leaves it undelivered', async () => {
    const store = await database.open();
    cleanup.push(() => store.close());
    const hook = await startWebhook();
    cleanup.push(() => new Promise((resolve) => hook.server!.close(resolve)));
    await createKey(store, { id: 'key_refused', name: 'refused', prefix: 'tg_refus', hash: 'cd'.repeat(32), scopes: ['proxy'] });
    const options = { store, webhookUrl: hook.url, fetch, log: () => {} };
    new BudgetAlerts({ ...options, now: () => new Date(), retries: 0 }).note('key_refused', crossedSoftThreshold, true);
    for (let tries = 0; hook.seen.length < 1 && tries < 200; tries++) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 50));

    const later = new BudgetAlerts({ ...options, now: () => new Date(Date.now() + 10 * 60_000) });
    expect(await later.redeliver()).toEqual({ delivered: 0, failed: 1 });
    expect(hook.seen.map((s) => s.body.type)).toEqual(['budget.limit', 'budget.limit']);
    const [alert] = await listAlerts(store, 'key_refused');
    expect(alert!.deliveredAt).toBeNull();
  });
});
