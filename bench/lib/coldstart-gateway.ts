import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { defaultConfigInput } from '../../src/config';
import { openStore } from '../../src/store';
import { startFakeVllm } from '../../test/doubles/fake-vllm';
import { createPostgresDatabase, postgresAvailable } from '../../test/integration/support/databases';
import { median, printTable } from './table';

/** CPU is read in 10 ms clock ticks: the mean of several samples resolves below a tick, a median cannot. */
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

import { bundleWorker, removeBundle, startWorkerd, type WorkerBundle } from './workerd';

/**
 * The whole gateway Worker (src/worker.ts as `wrangler deploy` bundles it), old and new, in
 * workerd: a fresh isolate per sample, whose first request is a chat completion (auth, counting,
 * admission on Postgres, the fake vLLM upstream, the ledger row in waitUntil), then later ones.
 * Each request's CPU is read once its ledger row is final, so the settle in waitUntil counts.
 */

const ADMIN_TOKEN = 'tgadmin_coldstart_bench_token';
const FLAGS = ['nodejs_compat', 'enable_request_signal'];
/** What each sample's requests are: a chat completion per model, and the model list (auth, no counting) for the costs that are not the tokenizer's. */
const PROBES = [
  ['gpt-4', 'cl100k_base'],
  ['gpt-4o', 'o200k_base'],
  ['GET /v1/models', 'no counting'],
] as const;
const LATER_REQUESTS = 10;

/** The gateway as of `rev`: its src/ and wrangler.toml, from git. */
function oldGatewayTree(root: string, work: string, rev: string): string {
  const tree = join(work, 'old-gateway');
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  const archive = execFileSync('git', ['archive', rev, 'src', 'wrangler.toml'], { maxBuffer: 64 << 20 });
  execFileSync('tar', ['-x', '-C', tree], { input: archive });
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
  return tree;
}

interface Sample {
  firstMs: number;
  firstCpuMs: number;
  laterMs: number;
  laterCpuMs: number;
  promptTokens: number;
}

export async function gatewayTable(root: string, work: string, oldRev: string, samples: number): Promise<void> {
  if (!postgresAvailable) {
    console.log('\n(gateway in workerd: skipped, no Postgres at the test URL)');
    return;
  }
  const database = await createPostgresDatabase();
  await (await openStore({ databaseUrl: database.url })).close(); // migrations run from Node, as in production
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  const backend = await startFakeVllm();
  const config = defaultConfigInput(backend.url) as { models: Record<string, Record<string, unknown>> };
  config.models['gpt-4o'] = { ...config.models['gpt-4'], encoding: 'o200k_base', extended: undefined };
  const bindings = { TOLLGATE_CONFIG: JSON.stringify(config), TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN, DATABASE_URL: database.url };
  const variants = [
    { name: `old (${oldRev})`, root: oldGatewayTree(root, work, oldRev) },
    { name: 'new', root },
  ];
  const bundles: WorkerBundle[] = [];
  try {
    for (const variant of variants) bundles.push(await bundleWorker(variant.root));
    const key = await createKey(bundles[1]!, bindings);
    let request = 0;
    const chat = async (url: string, model: string) => {
      const requestId = `coldstart_${process.pid}_${request++}`;
      const started = performance.now();
      if (model.startsWith('GET ')) {
        const response = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
        if (!response.ok) throw new Error(`the model list failed: ${response.status}`);
        return { ms: performance.now() - started, promptTokens: ((await response.json()) as { data: unknown[] }).data.length };
      }
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': requestId },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'What is the capital of France?' }], max_tokens: 5 }),
      });
      const body = (await response.json()) as { usage?: { prompt_tokens: number } };
      const ms = performance.now() - started;
      if (!response.ok) throw new Error(`chat completion failed: ${response.status} ${JSON.stringify(body)}`);
      await settled(sql, requestId);
      return { ms, promptTokens: body.usage!.prompt_tokens };
    };
    const rows: string[][] = [];
    for (const [model, encoding] of PROBES) {
      const results = variants.map((): Sample[] => []);
      for (let i = 0; i < samples; i++) {
        for (const [v, bundle] of bundles.entries()) {
          const workerd = await startWorkerd(bundle, { compatibilityFlags: FLAGS, bindings, localNetwork: true });
          try {
            const startup = workerd.cpuMs();
            const first = await chat(workerd.url, model);
            const firstCpuMs = workerd.cpuMs() - startup;
            const later: number[] = [];
            for (let k = 0; k < LATER_REQUESTS; k++) later.push((await chat(workerd.url, model)).ms);
            const laterCpuMs = (workerd.cpuMs() - startup - firstCpuMs) / LATER_REQUESTS;
            results[v]!.push({ firstMs: first.ms, firstCpuMs, laterMs: median(later), laterCpuMs, promptTokens: first.promptTokens });
          } finally {
            await workerd.stop();
          }
        }
      }
      const tokens = new Set(results.flat().map((sample) => sample.promptTokens));
      variants.forEach((variant, v) => {
        const of = (pick: (sample: Sample) => number) => median(results[v]!.map(pick));
        const cpu = (pick: (sample: Sample) => number) => mean(results[v]!.map(pick));
        rows.push([
          `${model} (${encoding}), ${variant.name}`,
          `${(bundles[v]!.gzipBytes / 1024).toFixed(0)} KiB`,
          of((s) => s.firstMs).toFixed(1),
          cpu((s) => s.firstCpuMs).toFixed(1),
          of((s) => s.laterMs).toFixed(1),
          cpu((s) => s.laterCpuMs).toFixed(1),
          tokens.size === 1 ? 'yes' : `NO (${[...tokens].join(', ')})`,
        ]);
      });
    }
    printTable(
      `The gateway Worker in workerd, Postgres and the fake vLLM on loopback: a fresh isolate per sample, its first chat completion, then ${LATER_REQUESTS} more (${samples} samples: wall times the median; CPU of the workerd process until the request's ledger row is final, in 10 ms ticks, the mean)`,
      [
        'model, gateway',
        'bundle gzip',
        '1st request ms',
        '1st request ms cpu (mean)',
        'later ms (p50)',
        'later ms cpu (mean)',
        'same answer',
      ],
      rows,
    );
  } finally {
    for (const bundle of bundles) removeBundle(bundle);
    await backend.close();
    await sql.end({ timeout: 5 });
    await database.drop();
  }
}

/** An API key, made through the admin API of a throwaway isolate (the samples' isolates stay fresh). */
async function createKey(bundle: WorkerBundle, bindings: Record<string, string>): Promise<string> {
  const workerd = await startWorkerd(bundle, { compatibilityFlags: FLAGS, bindings, localNetwork: true });
  try {
    const response = await fetch(`${workerd.url}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'coldstart-bench' }),
    });
    if (response.status !== 201) throw new Error(`creating a key failed: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { key: string }).key;
  } finally {
    await workerd.stop();
  }
}

async function settled(sql: postgres.Sql, requestId: string): Promise<void> {
  for (const until = Date.now() + 15_000; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 10))) {
    const [row] = await sql<{ status: string }[]>`SELECT status FROM usage_events WHERE request_id = ${requestId}`;
    if (row !== undefined && row.status !== 'pending') return;
  }
  throw new Error(`no final ledger row for ${requestId}`);
}
