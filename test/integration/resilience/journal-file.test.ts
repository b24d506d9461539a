import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Admission, Settlement } from '../../../src/ledger';
import { type Price, parseUsd } from '../../../src/pricing';
import { createLedger, FailOpenLedger } from '../../../src/usage';
import { FailOpenJournal } from '../../../src/usage/journal';
import { tempDir } from '../../support/resilience';
import { databases } from '../support/databases';
import { createTestKey, PROMPT_TOKEN, seedTestPrices, statusCounts, windowTotals } from '../support/ledger';
import { storeWithOutage } from '../support/outage';

const price: Price = {
  id: 0,
  model: 'gpt-4',
  promptPer1k: parseUsd('0.03'),
  completionPer1k: parseUsd('0.06'),
  effectiveFrom: new Date(0),
};
const STARTED_AT = new Date('2026-11-29T10:00:00Z');
let sequence = 0;

const admission = (keyId = 'key_j'): Admission => ({
  requestId: `journal-${++sequence}`,
  keyId,
  endpoint: 'chat.completions',
  requestedModel: 'gpt-4',
  routedModel: 'gpt-4',
  backend: 'gpu-a',
  promptTokens: 100,
  maxCompletionTokens: 50,
  stream: false,
  startedAt: STARTED_AT,
  failOpen: { budgeted: false },
});

const settlementOf = (a: Admission): Settlement => ({
  requestId: a.requestId,
  keyId: a.keyId,
  startedAt: a.startedAt,
  status: 'ok',
  promptTokens: 100,
  completionTokens: 20,
  usageSource: 'upstream',
  completionTokensEstimated: 20,
  billedCost: parseUsd('0.0042'),
  latencyMs: 10,
  ttftMs: null,
  errorCode: null,
  finishedAt: new Date(STARTED_AT.getTime() + 1_000),
  row: { admission: a, priceId: null, reservedCost: parseUsd('0.006'), admittedFailOpen: true },
});

const nobodyAlive = async () => new Set<string>();
const everybodyAlive = async (ids: string[]) => new Set(ids);
const files = (dir: string) => readdirSync(dir).filter((name) => statSync(join(dir, name)).size > 0);

// The journal's file on a real disk: what it keeps, what survives a torn write, who may take it over.
describe('the fail-open journal file', () => {
  test('keeps admissions and settlements until written, then empties; a clean stop with nothing left leaves no file', async () => {
    const dir = tempDir('journal-unit');
    const journal = new FailOpenJournal({ dir, instanceId: 'inst_a', log: () => {} });
    const first = admission();
    const second = admission();
    await journal.admitted(first, price, parseUsd('0.006'));
    await journal.admitted(second, price, parseUsd('0.006'));
    await journal.settled(settlementOf(first));
    expect(readFileSync(join(dir, 'inst_a.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(journal.outstanding).toBe(2);

    journal.written([first, second]);
    await journal.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  test("another instance adopts a killed one's entries once, rows as they stood: a settlement whole, an admission as its prompt", async () => {
    const dir = tempDir('journal-adopt');
    const killed = new FailOpenJournal({ dir, instanceId: 'inst_killed', log: () => {} });
    const settled = admission();
    const unfinished = admission();
    await killed.admitted(settled, price, parseUsd('0.006'));
    await killed.settled(settlementOf(settled));
    await killed.admitted(unfinished, price, parseUsd('0.006'));
    // The process dies mid-append: half a line at the end.
    appendFileSync(join(dir, 'inst_killed.jsonl'), '{"kind":"settled","settlement":{"requestId":');

    const a = new FailOpenJournal({ dir, instanceId: 'inst_a', log: () => {} });
    const b = new FailOpenJournal({ dir, instanceId: 'inst_b', log: () => {} });
    expect(await a.adopt(everybodyAlive, new Date())).toEqual([]); // its owner still counts as alive
    // Both at once (only the killed one is gone): one of them gets the file.
    const killedGone = async (ids: string[]) => new Set(ids.filter((id) => id !== 'inst_killed'));
    const [fromA, fromB] = await Promise.all([a.adopt(killedGone, new Date()), b.adopt(killedGone, new Date())]);
    const rows = [...fromA, ...fromB];
    expect(rows.map((row) => row.requestId).sort()).toEqual([settled.requestId, unfinished.requestId].sort());
    expect(rows.find((row) => row.requestId === settled.requestId)).toEqual(settlementOf(settled));
    expect(rows.find((row) => row.requestId === unfinished.requestId)).toMatchObject({
      status: 'incomplete',
      promptTokens: 100,
      completionTokens: 0,
      billedCost: 100n * PROMPT_TOKEN,
      errorCode: 'gateway_stopped',
      row: { admittedFailOpen: true, reservedCost: parseUsd('0.006') },
    });
    // The adopter holds them now, on disk, until written.
    const adopter = fromA.length > 0 ? 'inst_a' : 'inst_b';
    expect(files(dir)).toEqual([`${adopter}.jsonl`]);
    for (const journal of [killed, a, b]) await journal.close();
  });

  test('a clean stop with rows unwritten releases the file: the next instance adopts it at once', async () => {
    const dir = tempDir('journal-release');
    const stopped = new FailOpenJournal({ dir, instanceId: 'inst_stopped', log: () => {} });
    const pending = admission();
    await stopped.admitted(pending, price, parseUsd('0.006'));
    await stopped.settled(settlementOf(pending));
    await stopped.close();
    expect(readdirSync(dir)).toEqual(['inst_stopped.released.jsonl']);
    const next = new FailOpenJournal({ dir, instanceId: 'inst_next', log: () => {} });
    expect(await next.adopt(everybodyAlive, new Date())).toEqual([settlementOf(pending)]);
    await next.close();
  });

  test('an instance whose file was adopted while it lived starts a new one holding everything still outstanding', async () => {
    const dir = tempDir('journal-robbed');
    const slow = new FailOpenJournal({ dir, instanceId: 'inst_slow', log: () => {} });
    const before = admission();
    await slow.admitted(before, price, parseUsd('0.006'));
    const other = new FailOpenJournal({ dir, instanceId: 'inst_other', log: () => {} });
    expect(await other.adopt(nobodyAlive, new Date())).toHaveLength(1);
    const after = admission();
    await slow.admitted(after, price, parseUsd('0.006'));
    const text = readFileSync(join(dir, 'inst_slow.jsonl'), 'utf8');
    expect(text).toContain(before.requestId);
    expect(text).toContain(after.requestId);
    await slow.close();
    await other.close();
  });

  test('past its size limit the file is rewritten with only what is outstanding', async () => {
    const dir = tempDir('journal-compact');
    const journal = new FailOpenJournal({ dir, instanceId: 'inst_c', log: () => {}, compactAfterBytes: 2_000 });
    const kept = admission();
    await journal.admitted(kept, price, parseUsd('0.006'));
    const done = Array.from({ length: 10 }, () => admission());
    for (const a of done) await journal.settled(settlementOf(a));
    journal.written(done);
    await journal.close();
    const lines = readFileSync(join(dir, 'inst_c.released.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(kept.requestId);
  });

  test('a file of garbage yields nothing and is removed', async () => {
    const dir = tempDir('journal-garbage');
    writeFileSync(join(dir, 'inst_x.released.jsonl'), 'not json\n{"kind":"other"}\n');
    const journal = new FailOpenJournal({ dir, instanceId: 'inst_y', log: () => {} });
    expect(await journal.adopt(nobodyAlive, new Date())).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });
});

// The journal behind the fail-open ledger, on both databases: rows served while the database was
// away and lost with the process are written from the journal, once however often it is replayed.
describe.each(databases)('fail-open rows replayed from the journal on $name', (database) => {
  test('served fail-open, the process gone before the database returned: written once from the journal, twice replayed', async () => {
    const store = await database.open();
    try {
      await seedTestPrices(store);
      const keyId = await createTestKey(store, { limitCost: parseUsd('1'), limitTokens: null, period: 'day' });
      const dir = tempDir('journal-replay');
      const after = tempDir('journal-replay-next');
      const flaky = storeWithOutage(store);
      const journal = new FailOpenJournal({ dir, instanceId: 'inst_gone', log: () => {} });
      const inner = createLedger(flaky.store, { log: () => {}, onCommit: (commit) => ledger.committed(commit) });
      const ledger = new FailOpenLedger(inner, { journal, log: () => {} });
      // This instance learns the key's budget and price, then the database goes away.
      const warm = { ...admission(keyId), failOpen: { budgeted: true } };
      expect(await ledger.admit(warm)).toMatchObject({ admitted: true });
      ledger.settle({ ...settlementOf(warm), row: { ...settlementOf(warm).row!, admittedFailOpen: false } });
      await ledger.flush(5_000);
      flaky.down();
      const served = { ...admission(keyId), failOpen: { budgeted: true } };
      const killed = { ...admission(keyId), failOpen: { budgeted: true } };
      expect(await ledger.admit(served)).toMatchObject({ admitted: true, failOpen: true });
      expect(await ledger.admit(killed)).toMatchObject({ admitted: true, failOpen: true });
      ledger.settle(settlementOf(served));
      await ledger.flush(300); // nothing can be written: the process is then gone, its memory with it
      // What the next start finds on disk (twice: as after a crash before the first replay was compacted).
      const left = readFileSync(join(dir, 'inst_gone.jsonl'), 'utf8');

      for (const replay of ['first', 'again']) {
        writeFileSync(join(after, 'inst_gone.jsonl'), left);
        const next = new FailOpenJournal({ dir: after, instanceId: `inst_next_${replay}`, log: () => {} });
        const nextLedger: FailOpenLedger = new FailOpenLedger(
          createLedger(store, { log: () => {}, onCommit: (commit) => nextLedger.committed(commit) }),
          { journal: next, log: () => {} },
        );
        nextLedger.replay(await next.adopt(nobodyAlive, new Date()));
        await nextLedger.flush(5_000);
        await next.close();
        expect(await statusCounts(store, keyId)).toEqual({ ok: 2, incomplete: 1 });
        expect(await windowTotals(store, keyId)).toMatchObject({
          spentCost: 2n * parseUsd('0.0042') + 100n * PROMPT_TOKEN,
          reservedCost: 0n,
        });
      }
      expect(readdirSync(after)).toEqual([]);
      await journal.close();
    } finally {
      await store.close();
    }
  });
});
