/**
 * The per-key admission ceiling: how many admissions per second one key can take, measured on the
 * admission statement itself (the one the gateway sends, from src/store/admission.ts), driven by
 * `pgbench` (a C client, so the load generator eats little of the cores Postgres needs). Next to
 * it, on the same server in the same run: `SELECT 1` (the round trip) and a bare increment of one
 * budget-window row (the row lock every admission of a key serializes on), and the same
 * admissions spread over 64 keys. `npm run bench:admission` (BENCH_SECONDS, BENCH_CLIENTS).
 *
 * Needs Postgres (TOLLGATE_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test)
 * and `pgbench` (Debian: postgresql-client or the server package).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { createKey, openStore, seedPricesFromConfig, setBudget } from '../src/store';
import { ADMIT, monthOf } from '../src/store/admission';
import { createPostgresDatabase } from '../test/integration/support/databases';
import { postgresCpuSeconds } from './lib/procfs';
import { printTable } from './lib/table';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1,16,64').split(',').map(Number);
const SPREAD_KEYS = 64;
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'tollgate-admission-'));

const keyId = (n: number) => `key_bench_${n}`;

interface Script {
  text: string;
  /** pgbench variables (-D): the values the statement binds. */
  vars: Record<string, string>;
}

/**
 * The admission statement as a pgbench script: the gateway's text, whose parameters are pgbench
 * variables holding the values the gateway would bind (`literals`: written into the text instead,
 * to show what the generic plan costs). The key and the request id are new each transaction. In
 * prepared mode pgbench sends the variables as parameters of one prepared statement, as postgres.js does.
 */
function admissionScript(keyChoice: string, durable: boolean, literals = false): Script {
  const startedAt = new Date().toISOString();
  const values = {
    keyId: '',
    requestId: '',
    startedAt,
    startedMonth: monthOf(new Date(startedAt)),
    promptTokens: 40,
    maxCompletionTokens: 16,
    reservedTokens: 56,
    routedModel: 'gpt-4',
    endpoint: 'chat.completions',
    requestedModel: 'gpt-4',
    backend: 'gpu',
    stream: false,
    tags: '{}',
    instanceId: 'inst_bench',
    synchronousCommit: durable ? 'on' : 'off',
  };
  const marker = (name: string) => `\u0000${name}\u0000`;
  const named = ADMIT.params(
    Object.fromEntries(Object.keys(values).map((name) => [name, marker(name)])) as unknown as Parameters<typeof ADMIT.params>[0],
  );
  const bound = ADMIT.params(values as unknown as Parameters<typeof ADMIT.params>[0]);
  const literal = (value: unknown): string =>
    typeof value === 'number' || typeof value === 'boolean' ? String(value) : `'${String(value).replaceAll("'", "''")}'`;
  const vars: Record<string, string> = {};
  const text = ADMIT.text.replace(/\$(\d+)/g, (_, index: string) => {
    const slot = named[Number(index) - 1];
    if (slot === marker('keyId')) return "('key_bench_' || :k::text)";
    if (slot === marker('requestId')) return "('r' || :rid::text)";
    const value = bound[Number(index) - 1];
    if (literals) return literal(value);
    vars[`p${index}`] = String(value);
    return `:p${index}`;
  });
  // pgbench reads one statement per script; line breaks are fine, a trailing ';' ends it.
  return { text: `${keyChoice}\n\\set rid random(1, 9000000000000000)\n${text.replace(/--[^\n]*/g, '').trim()};\n`, vars };
}

interface Cell {
  tps: number;
  latencyMs: number;
  pgCpuMs: number;
  /** What the busy backends were doing, sampled every 50 ms: the top two, as shares. */
  waits: string;
}

async function pgbench(url: string, script: Script, clients: number, options: string): Promise<Cell> {
  const file = join(work, `s${Math.random().toString(36).slice(2)}.sql`);
  writeFileSync(file, script.text);
  const before = postgresCpuSeconds();
  const seen = new Map<string, number>();
  const watcher = postgres(url, { max: 1, onnotice: () => {} });
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rows = await watcher<{ wait: string }[]>`
        SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait FROM pg_stat_activity
        WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`;
      for (const { wait } of rows) seen.set(wait, (seen.get(wait) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const ran = run(
    'pgbench',
    [
      ...['-n', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(SECONDS), '-f', file],
      ...Object.entries(script.vars).flatMap(([name, value]) => ['-D', `${name}=${value}`]),
      url,
    ],
    { env: { ...process.env, PGOPTIONS: options }, maxBuffer: 1 << 24 },
  );
  const { stdout } = await ran.finally(() => (sampling = false));
  await sampler;
  await watcher.end();
  const samples = [...seen.values()].reduce((sum, n) => sum + n, 0);
  const waits = [...seen]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 2)
    .map(([wait, n]) => `${wait} ${Math.round((n * 100) / samples)}%`)
    .join(', ');
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1]);
  const latencyMs = Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1]);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  if (!Number.isFinite(tps) || failed > 0) throw new Error(`pgbench failed:\n${stdout}`);
  return { tps, latencyMs, pgCpuMs: ((postgresCpuSeconds() - before) * 1000) / Math.max(transactions, 1), waits };
}

async function main(): Promise<void> {
  try {
    await run('pgbench', ['--version']);
  } catch {
    throw new Error('pgbench is not installed (Debian: apt-get install postgresql-client)');
  }
  const database = await createPostgresDatabase();
  const store = await openStore({ databaseUrl: database.url });
  try {
    await seedPricesFromConfig(store, { 'gpt-4': { pricePer1k: { prompt: '0.03', completion: '0.06' } } });
    // Budgets far above what a run spends: the ceiling measured is the lock, never a refusal.
    for (let n = 0; n <= SPREAD_KEYS; n++) {
      await createKey(store, { id: keyId(n), name: keyId(n), prefix: keyId(n).slice(0, 8), hash: keyId(n), scopes: ['proxy'] });
      await setBudget(store, keyId(n), { limitCost: 10n ** 18n, limitTokens: null, period: 'month' });
    }
    // Warm the window rows and the plans.
    await pgbench(database.url, admissionScript('\\set k 0', false), 1, '');

    const asyncCommit = '-c synchronous_commit=off';
    const plain = (text: string): Script => ({ text, vars: {} });
    const cases: { name: string; script: Script; options: string }[] = [
      { name: 'SELECT 1 (the round trip)', script: plain('SELECT 1;\n'), options: '' },
      {
        name: 'one window row += 1 (the lock)',
        script: plain(`UPDATE budget_windows SET reserved_cost = reserved_cost + 1 WHERE key_id = '${keyId(0)}';\n`),
        options: asyncCommit,
      },
      { name: 'admission, one key', script: admissionScript('\\set k 0', false), options: '' },
      { name: 'admission, one key, values inlined', script: admissionScript('\\set k 0', false, true), options: '' },
      { name: `admission, ${SPREAD_KEYS} keys`, script: admissionScript(`\\set k random(1, ${SPREAD_KEYS})`, false), options: '' },
      { name: 'admission, one key, durable', script: admissionScript('\\set k 0', true), options: '' },
      { name: `admission, ${SPREAD_KEYS} keys, durable`, script: admissionScript(`\\set k random(1, ${SPREAD_KEYS})`, true), options: '' },
    ];
    const rows: string[][] = [];
    for (const c of cases) {
      for (const clients of CLIENTS) {
        const cell = await pgbench(database.url, c.script, clients, c.options);
        rows.push([
          c.name,
          String(clients),
          Math.round(cell.tps).toLocaleString('en-US'),
          cell.latencyMs.toFixed(2),
          cell.pgCpuMs.toFixed(3),
          cell.waits,
        ]);
      }
    }
    printTable(
      `Statements per second on one Postgres (pgbench -M prepared, ${SECONDS} s each; durable = synchronous_commit on)`,
      ['statement', 'clients', 'per s', 'latency ms', 'PG CPU ms each', 'busy backends were (sampled)'],
      rows,
    );
  } finally {
    await store.close();
    await database.drop();
  }
}

await main();
