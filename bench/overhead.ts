/**
 * What the gateway adds to a request: the fake vLLM backend called directly vs through tollgate
 * (auth, counting, reservation and ledger on PGlite, and on Postgres when it is reachable),
 * side by side in one run. `npm run bench:overhead`
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { defaultConfigInput } from '../src/config';
import { startFakeVllm } from '../test/doubles/fake-vllm';
import { createPostgresDatabase, postgresAvailable } from '../test/integration/support/databases';
import { ADMIN_TOKEN, startGatewayProcess } from '../test/support/gateway';

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 400);
const CONCURRENCY = 64;
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

interface Target {
  name: string;
  url: string; // base ending in /v1
  key: string;
  /** CPU seconds used so far by the gateway's processes (Linux), to report CPU per request. */
  cpuSeconds?: () => number;
}

/** User plus system CPU of every process in a process group, from /proc (Linux only). */
function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / 100; // USER_HZ
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function post(url: string, key: string, body: string, firstByte = false): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let first = 0;
        res.on('data', () => (first ||= performance.now()));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve((firstByte ? first : performance.now()) - started)
            : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function latency(target: Target, body: string, firstByte: boolean) {
  for (let i = 0; i < 30; i++) await post(`${target.url}/chat/completions`, target.key, body, firstByte); // warm up
  const times: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) times.push(await post(`${target.url}/chat/completions`, target.key, body, firstByte));
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function throughput(target: Target, body: string) {
  const until = performance.now() + LOAD_SECONDS * 1000;
  const cpuBefore = target.cpuSeconds?.();
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await post(`${target.url}/chat/completions`, target.key, body);
        done++;
      }
    }),
  );
  const cpuMsPerRequest = cpuBefore === undefined ? null : ((target.cpuSeconds!() - cpuBefore) * 1000) / done;
  return { rps: done / LOAD_SECONDS, cpuMsPerRequest };
}

async function gatewayTarget(name: string, backendUrl: string, env: Record<string, string>) {
  const gateway = await startGatewayProcess({ env, config: defaultConfigInput(backendUrl) });
  const created = await fetch(`${gateway.url}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ name: 'bench' }),
  });
  const { id, key } = (await created.json()) as { id: string; key: string };
  // A budget large enough never to refuse: the reservation path is what is measured.
  await fetch(`${gateway.url}/admin/keys/${id}/budget`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ limit: '1000000', period: 'month' }),
  });
  const cpuSeconds = () => groupCpuSeconds(gateway.child.pid!);
  return { target: { name, url: `${gateway.url}/v1`, key, cpuSeconds }, stop: () => gateway.stop() };
}

async function main() {
  const backend = await startFakeVllm({ completionTokens: 16 });
  const small = JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'What is the capital of France?' }], max_tokens: 16 });
  const stream = JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'Stream please.' }], max_tokens: 16, stream: true });
  const direct: Target = { name: 'backend directly', url: backend.url, key: 'none' };
  const rows: string[][] = [];
  const measure = async (target: Target) => {
    const json = await latency(target, small, false);
    const ttfb = await latency(target, stream, true);
    const { rps, cpuMsPerRequest } = await throughput(target, small);
    return { json, ttfb, rps, cpuMsPerRequest };
  };
  const base = await measure(direct);
  const row = (name: string, m: typeof base) => [
    name,
    m.json.p50.toFixed(2),
    m.json.p99.toFixed(2),
    (m.json.p50 - base.json.p50).toFixed(2),
    m.ttfb.p50.toFixed(2),
    (m.ttfb.p50 - base.ttfb.p50).toFixed(2),
    m.rps.toFixed(0),
    (m.rps / base.rps).toFixed(2),
    m.cpuMsPerRequest === null ? '-' : m.cpuMsPerRequest.toFixed(2),
  ];
  rows.push(row(direct.name, base));

  const pglite = await gatewayTarget('tollgate, PGlite', backend.url, {});
  rows.push(row(pglite.target.name, await measure(pglite.target)));
  await pglite.stop();
  if (postgresAvailable) {
    const database = await createPostgresDatabase();
    const postgres = await gatewayTarget('tollgate, Postgres', backend.url, { DATABASE_URL: database.url });
    rows.push(row(postgres.target.name, await measure(postgres.target)));
    await postgres.stop();
    await database.drop();
  }
  await backend.close();
  agent.destroy();

  const header = [
    'path',
    'p50 ms',
    'p99 ms',
    'added p50',
    'stream TTFB p50',
    'added TTFB',
    `req/s @${CONCURRENCY}`,
    'vs direct',
    'gateway CPU ms/req',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  console.log(
    `\nsmall non-streamed chat (16 completion tokens), ${SEQUENTIAL} sequential requests; throughput for ${LOAD_SECONDS} s at ${CONCURRENCY} connections, with the CPU the gateway spent per request meanwhile (steadier than req/s on a shared machine)`,
  );
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
