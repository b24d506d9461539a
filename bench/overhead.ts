/**
 * What the gateway adds to a request: the fake vLLM backend called directly vs through tollgate
 * (auth, counting, reservation and ledger on PGlite, and on Postgres when it is reachable),
 * side by side in one run. Each database gets a second row where the model has three replicas
 * (three backend names on the same fake, so only the gateway's balancing and health bookkeeping
 * differ). `npm run bench:overhead`
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
/** Throughput rounds per gateway, alternating between the gateways of one database, so drift shows as spread. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

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

/** The seed config; with `replicas`, gpt-4 is served by that many backends (all on the same URL). */
function benchConfig(backendUrl: string, replicas: number): unknown {
  const input = defaultConfigInput(backendUrl) as any;
  if (replicas > 1) {
    input.backends = Object.fromEntries(Array.from({ length: replicas }, (_, i) => [`gpu-${i}`, { url: backendUrl, timeoutMs: 600_000 }]));
    input.models['gpt-4'].backends = Object.keys(input.backends);
    delete input.models['gpt-4'].backend;
    input.models['gpt-4-32k'].backend = 'gpu-0';
  }
  return input;
}

async function gatewayTarget(name: string, backendUrl: string, env: Record<string, string>, replicas = 1) {
  const gateway = await startGatewayProcess({ env, config: benchConfig(backendUrl, replicas) });
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
  type Measured = { json: { p50: number; p99: number }; ttfb: { p50: number }; rps: number[]; cpu: number[] };
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  /** Latency once each, then throughput in rounds alternating between the targets. */
  const measureAll = async (targets: Target[], rounds: number): Promise<Measured[]> => {
    const measured: Measured[] = [];
    for (const target of targets)
      measured.push({ json: await latency(target, small, false), ttfb: await latency(target, stream, true), rps: [], cpu: [] });
    for (let round = 0; round < rounds; round++) {
      for (const [i, target] of targets.entries()) {
        const { rps, cpuMsPerRequest } = await throughput(target, small);
        measured[i]!.rps.push(rps);
        if (cpuMsPerRequest !== null) measured[i]!.cpu.push(cpuMsPerRequest);
      }
    }
    return measured;
  };
  const [base] = await measureAll([direct], 1);
  const row = (name: string, m: Measured) => [
    name,
    m.json.p50.toFixed(2),
    m.json.p99.toFixed(2),
    (m.json.p50 - base!.json.p50).toFixed(2),
    m.ttfb.p50.toFixed(2),
    (m.ttfb.p50 - base!.ttfb.p50).toFixed(2),
    median(m.rps).toFixed(0),
    (median(m.rps) / median(base!.rps)).toFixed(2),
    m.cpu.length === 0 ? '-' : median(m.cpu).toFixed(2),
    m.cpu.length === 0 ? '-' : `${Math.min(...m.cpu).toFixed(2)}–${Math.max(...m.cpu).toFixed(2)}`,
  ];
  rows.push(row(direct.name, base!));

  // Per database: the model on one backend, and on three replicas, running side by side.
  const compare = async (label: string, env: Record<string, string>) => {
    const gateways = [await gatewayTarget(`tollgate, ${label}`, backend.url, env, 1)];
    gateways.push(await gatewayTarget(`tollgate, ${label}, 3 replicas`, backend.url, env, 3));
    const measured = await measureAll(
      gateways.map((gateway) => gateway.target),
      ROUNDS,
    );
    for (const [i, gateway] of gateways.entries()) rows.push(row(gateway.target.name, measured[i]!));
    for (const gateway of gateways) await gateway.stop();
  };
  await compare('PGlite', {});
  if (postgresAvailable) {
    const database = await createPostgresDatabase();
    await compare('Postgres', { DATABASE_URL: database.url });
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
    'CPU min–max',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  console.log(
    `\nsmall non-streamed chat (16 completion tokens), ${SEQUENTIAL} sequential requests; throughput for ${LOAD_SECONDS} s at ${CONCURRENCY} connections, ${ROUNDS} rounds alternating between the gateways of a database (medians), with the CPU the gateway spent per request meanwhile (steadier than req/s on a shared machine) and its spread over the rounds`,
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
