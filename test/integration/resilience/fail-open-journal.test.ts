import { copyFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseUsd } from '../../../src/pricing';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { type GatewayProcess, startGatewayProcess } from '../../support/gateway';
import {
  adminOf,
  chat,
  chatInit,
  ledgerRows,
  processConfig,
  relayedDatabase,
  startWebhook,
  tempDir,
  waitFor,
  windowOf,
} from '../../support/resilience';
import { postgresAvailable } from '../support/databases';

/** gpt-4's prompt price in picodollars per token ($0.03 per 1k). */
const PROMPT_TOKEN = 30_000_000n;

// Requests served fail-open while the database is down exist only in the gateway's memory until
// the database has their rows. The journal (TOLLGATE_JOURNAL_DIR) keeps them on disk: a gateway
// stopped or killed during the outage bills them after a restart, once, and a row that ends up
// over its budget raises an overspend alert.
describe.runIf(postgresAvailable)('the fail-open journal across restarts', () => {
  let backend: FakeVllm;
  let database: Awaited<ReturnType<typeof relayedDatabase>>;
  let webhook: Awaited<ReturnType<typeof startWebhook>>;
  const running = new Set<GatewayProcess>();

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 5 });
    database = await relayedDatabase();
    webhook = await startWebhook();
  });
  afterAll(async () => {
    for (const gateway of running) await gateway.stop().catch(() => {});
    await database?.drop();
    await webhook?.close();
    await backend?.close();
  });

  async function start(journalDir: string): Promise<GatewayProcess> {
    const gateway = await startGatewayProcess({
      env: { DATABASE_URL: database.relayUrl, TOLLGATE_JOURNAL_DIR: journalDir },
      config: processConfig(backend.url, (input) => {
        input.gateway = { alertWebhookUrl: webhook.url };
      }),
    });
    running.add(gateway);
    return gateway;
  }
  const journalFiles = (dir: string) => readdirSync(dir).filter((name) => statSync(join(dir, name)).size > 0);

  test('served while the database is down, SIGTERM while it still is: after a restart, billed once, and the overspend alerted', {
    timeout: 180_000,
  }, async () => {
    const journalDir = tempDir('journal-term');
    let gateway = await start(journalDir);
    let admin = adminOf(gateway);
    const open = await admin.createKey('open', { failOpen: true });
    const over = await admin.createKey('over', { failOpen: true });
    await admin.setBudget(over.id, '10');
    const warmOpen = await chat(gateway.url, open.key);
    const warmOver = await chat(gateway.url, over.key);
    expect([warmOpen.status, warmOver.status]).toEqual([200, 200]);
    // The over key's limit lowered to what it spent: this instance still remembers $10 left.
    const spent = await waitFor('the warm-up billed', async () => {
      const budget = await (await admin.call('GET', `/admin/keys/${over.id}/budget`)).json();
      return budget.spent !== '0' && budget.reserved === '0' ? (budget.spent as string) : undefined;
    });
    await admin.setBudget(over.id, spent);
    expect((await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${over.key}` } })).status).toBe(200);

    await database.relay.down();
    const served = [
      { key: open, requestId: 'journal-open-1' },
      { key: open, requestId: 'journal-open-2' },
      { key: over, requestId: 'journal-over' },
    ];
    const answers = new Map<string, Awaited<ReturnType<typeof chat>>>();
    for (const { key, requestId } of served) answers.set(requestId, await chat(gateway.url, key.key, { requestId }));
    for (const answer of answers.values()) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-tollgate-fail-open')).toBe('1');
    }
    await gateway.stop(); // SIGTERM, the database still down: the rows stay in the journal, released
    running.delete(gateway);
    const released = journalFiles(journalDir);
    expect(released).toEqual([expect.stringMatching(/^inst_\w+\.released\.jsonl$/)]);
    const kept = join(tempDir('journal-copy'), 'kept.jsonl');
    copyFileSync(join(journalDir, released[0]!), kept);

    await database.relay.up();
    gateway = await start(journalDir);
    admin = adminOf(gateway);
    await waitFor('the journaled rows written', async () => {
      const rows = new Map([...(await ledgerRows(database.store, open.id)), ...(await ledgerRows(database.store, over.id))]);
      return served.every(({ requestId }) => rows.get(requestId)?.[0]?.status === 'ok');
    });
    const billed = async () => {
      const rows = new Map([...(await ledgerRows(database.store, open.id)), ...(await ledgerRows(database.store, over.id))]);
      for (const { requestId } of served) {
        expect(rows.get(requestId)).toEqual([
          expect.objectContaining({
            status: 'ok',
            admittedFailOpen: true,
            billedCost: parseUsd(answers.get(requestId)!.headers.get('x-tollgate-cost')!),
            overLimit: requestId === 'journal-over',
          }),
        ]);
      }
      return { open: await windowOf(database.store, open.id), over: await windowOf(database.store, over.id) };
    };
    const cost = (requestId: string) => parseUsd(answers.get(requestId)!.headers.get('x-tollgate-cost')!);
    const windows = await billed();
    expect(windows.over).toEqual({ spent: parseUsd(spent) + cost('journal-over'), reserved: 0n });
    await waitFor('the journal emptied', () => journalFiles(journalDir).length === 0);

    // The over-limit row raised an overspend alert, posted to the webhook.
    const alerts = (await (await admin.call('GET', `/admin/alerts?keyId=${over.id}`)).json()).data as { kind: string }[];
    expect(alerts.map((alert) => alert.kind)).toContain('overspend');
    await waitFor('the overspend posted', () =>
      webhook.posts.some((post) => post.type === 'budget.overspend' && post.alert.keyId === over.id),
    );

    // The same journal replayed again (as after a crash before compaction): nothing changes.
    copyFileSync(kept, join(journalDir, 'inst_gone.released.jsonl'));
    await waitFor('the copy adopted', () => journalFiles(journalDir).length === 0);
    await waitFor('nothing waiting', async () => (await (await admin.call('GET', '/admin/metrics')).json()).ledger.waiting === 0);
    expect(await billed()).toEqual(windows);
  });

  test('SIGKILL mid-request while the database is down: after a restart the request is billed its prompt, once', {
    timeout: 180_000,
  }, async () => {
    const journalDir = tempDir('journal-kill');
    let gateway = await start(journalDir);
    const admin = adminOf(gateway);
    const open = await admin.createKey('killed', { failOpen: true });
    expect((await chat(gateway.url, open.key)).status).toBe(200);

    await database.relay.down();
    backend.behave({ gate: new Promise<void>(() => {}) }); // the stream never ends by itself
    const response = await fetch(`${gateway.url}/v1/chat/completions`, chatInit(open.key, { requestId: 'killed-open', stream: true }));
    expect(response.status).toBe(200);
    expect(response.headers.get('x-tollgate-fail-open')).toBe('1');
    const reader = response.body!.getReader();
    await reader.read(); // mid-stream
    backend.behave({ gate: undefined });
    const journaled = readFileSync(join(journalDir, journalFiles(journalDir)[0]!), 'utf8');
    expect(journaled).toContain('killed-open');
    await gateway.kill();
    running.delete(gateway);
    await reader.cancel().catch(() => {});

    await database.relay.up();
    gateway = await start(journalDir);
    // Adopted once this instance knows the killed one is gone (silent for 3 heartbeats).
    const row = await waitFor('the killed request billed', async () => (await ledgerRows(database.store, open.id)).get('killed-open')?.[0]);
    expect(row).toMatchObject({ status: 'incomplete', completionTokens: 0, admittedFailOpen: true, errorCode: 'gateway_stopped' });
    expect(row.promptTokens).toBeGreaterThan(0);
    expect(row.billedCost).toBe(BigInt(row.promptTokens) * PROMPT_TOKEN);
    expect((await ledgerRows(database.store, open.id)).get('killed-open')).toHaveLength(1);
    await waitFor('the journal emptied', () => journalFiles(journalDir).length === 0);
  });
});
