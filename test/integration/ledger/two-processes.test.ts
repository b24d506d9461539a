import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Store } from '../../../src/store';
import { createLedger } from '../../../src/usage';
import { databases, type TestStore } from '../support/databases';
import { admission, COMPLETION_TOKEN, createTestKey, PROMPT_TOKEN, seedTestPrices, statusCounts, windowTotals } from '../support/ledger';

const RESERVATION = 100n * PROMPT_TOKEN + 50n * COMPLETION_TOKEN;
const worker = fileURLToPath(new URL('../support/admit-worker.ts', import.meta.url));
const postgres = databases.find((database) => database.name === 'postgres');

/** Starts a second process that admits `count` requests when told to go; resolves to how many it got. */
function otherProcess(databaseUrl: string, keyId: string, count: number): { ready: Promise<void>; go(): void; admitted: Promise<number> } {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, databaseUrl, keyId, String(count), `req_child_${keyId}`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const admitted = new Promise<number>((resolve, reject) => {
    child.on('exit', (code) =>
      code === 0
        ? resolve((JSON.parse(output.slice('ready\n'.length)) as { admitted: number }).admitted)
        : reject(new Error(`admit worker exited ${code}`)),
    );
  });
  return {
    ready: new Promise((resolve) => child.stdout.on('data', () => output.startsWith('ready\n') && resolve())),
    go: () => child.stdin.end('go\n'),
    admitted,
  };
}

describe.runIf(postgres)('budget invariant across two OS processes on postgres', () => {
  let store: TestStore;
  beforeAll(async () => {
    store = await postgres!.open();
    await seedTestPrices(store);
  });
  afterAll(async () => store?.close());

  test('200 admissions, 100 from each process, against a budget for exactly 20', async () => {
    const keyId = await createTestKey(store as Store, { limitCost: 20n * RESERVATION, limitTokens: null, period: 'day' });
    const child = otherProcess(store.databaseUrl!, keyId, 100);
    await child.ready;
    const ledger = createLedger(store, { log: () => {} });
    child.go();
    const mine = await Promise.all(Array.from({ length: 100 }, () => ledger.admit(admission(keyId))));
    const theirs = await child.admitted;
    expect(mine.filter((result) => result.admitted).length + theirs).toBe(20);
    expect(await windowTotals(store, keyId)).toMatchObject({ spentCost: 0n, reservedCost: 20n * RESERVATION });
    expect(await statusCounts(store, keyId)).toEqual({ pending: 20 });
  });
});
