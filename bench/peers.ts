/**
 * tollgate next to the gateway a user would pick instead (Portkey's open-source gateway, from
 * npm, started as its users start it), and next to the upstream called directly, side by side in
 * one run: a fixed-answer upstream, load from `wrk` (a separate process: apt-get install wrk),
 * small JSON, 30 KB JSON and stream bodies, 1 and 64 connections; CPU per request of each process
 * group (the gateway's, and Postgres's) and RSS from /proc. Rounds alternate the targets, so the
 * machine's drift shows in the spread. `npm run bench:peers` (BENCH_SECONDS, BENCH_ROUNDS).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultConfigInput } from '../src/config';
import { createPostgresDatabase, postgresAvailable } from '../test/integration/support/databases';
import { ADMIN_TOKEN, startGatewayProcess } from '../test/support/gateway';
import { groupCpuSeconds, groupRssMiB, postgresCpuSeconds } from './lib/procfs';
import { median, printTable } from './lib/table';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const TTFB_SAMPLES = Number(process.env.BENCH_TTFB_SAMPLES ?? 300);
/** Only the targets (and shapes) whose names contain one of these comma-separated words. */
const ONLY_TARGETS = process.env.BENCH_TARGETS?.split(',');
const ONLY_SHAPES = process.env.BENCH_SHAPES?.split(',');
/** Extra environment for the tollgate processes (e.g. BENCH_TOLLGATE_ENV='{"TOLLGATE_DURABLE_ADMISSIONS":"1"}'). */
const TOLLGATE_ENV = JSON.parse(process.env.BENCH_TOLLGATE_ENV ?? '{}') as Record<string, string>;
/**
 * A checkout of an earlier HEAD, built (`npm run build` there): its gateway joins the run on
 * Postgres as `tollgate@before`, so before and after alternate in one run.
 */
const BEFORE = process.env.BENCH_BEFORE;
const wanted = (name: string, only: string[] | undefined) => !only || only.some((word) => name.includes(word));
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'tollgate-peers-'));

interface Target {
  name: string;
  /** Base URL ending in /v1. */
  url: string;
  headers: Record<string, string>;
  /** Process group of the gateway (none for the upstream itself). */
  pgid: number | null;
  countsPostgres: boolean;
}

interface Shape {
  name: string;
  /** The body, with `@N@` replaced by a per-request counter (no two requests are the same). */
  body: string;
  stream: boolean;
}

const filler = Array.from({ length: 600 }, (_, i) => `Paragraph ${i}: the quarterly numbers moved as expected.`).join(' ');
const SHAPES: Shape[] = [
  {
    name: 'small JSON',
    stream: false,
    body: JSON.stringify({
      model: 'gpt-4',
      messages: [{ role: 'user', content: 'Question @N@: what is the capital of France?' }],
      max_tokens: 16,
    }),
  },
  {
    name: '30 KB JSON',
    stream: false,
    body: JSON.stringify({
      model: 'gpt-4',
      messages: [
        { role: 'system', content: filler.slice(0, 30_000) },
        { role: 'user', content: 'Question @N@: summarise.' },
      ],
      max_tokens: 16,
    }),
  },
  {
    name: 'stream',
    stream: true,
    body: JSON.stringify({
      model: 'gpt-4',
      messages: [{ role: 'user', content: 'Question @N@: stream please.' }],
      max_tokens: 16,
      stream: true,
    }),
  },
];

/** A wrk Lua script that POSTs `shape` with `headers`, a fresh counter in each body. */
function wrkScript(target: Target, shape: Shape): string {
  const [head, tail] = shape.body.split('@N@');
  const headers = { 'content-type': 'application/json', ...target.headers };
  const lua = [
    'wrk.method = "POST"',
    ...Object.entries(headers).map(([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`),
    'local n = 0',
    `local head = ${luaString(head!)}`,
    `local tail = ${luaString(tail ?? '')}`,
    'request = function() n = n + 1; return wrk.format(nil, nil, nil, head .. n .. tail) end',
  ].join('\n');
  const path = join(work, `${target.name.replace(/\W+/g, '_')}-${shape.name.replace(/\W+/g, '_')}.lua`);
  writeFileSync(path, lua);
  return path;
}

const luaString = (text: string) => `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`;

interface WrkResult {
  rps: number;
  p50Ms: number;
  failures: number;
}

async function wrk(target: Target, shape: Shape, connections: number): Promise<WrkResult> {
  const { stdout } = await run('wrk', [
    '-t1',
    `-c${connections}`,
    `-d${SECONDS}s`,
    '--latency',
    '-s',
    wrkScript(target, shape),
    `${target.url}/chat/completions`,
  ]);
  const p50 = /50%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const unit = { us: 0.001, ms: 1, s: 1000 }[p50?.[2] as 'us' | 'ms' | 's'] ?? 1;
  const failures =
    Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0) +
    Number(
      /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
        .exec(stdout)
        ?.slice(1)
        .reduce((a, b) => a + Number(b), 0) ?? 0,
    );
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0), p50Ms: Number(p50?.[1] ?? Number.NaN) * unit, failures };
}

/** Time to the first body byte of a stream, one request at a time (wrk measures whole responses). */
async function ttfbP50(target: Target, shape: Shape): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < TTFB_SAMPLES + 20; i++) {
    const body = shape.body.replace('@N@', `ttfb${i}`);
    const started = performance.now();
    const first = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${target.url}/chat/completions`,
        { method: 'POST', headers: { 'content-type': 'application/json', ...target.headers } },
        (res) => {
          let at = 0;
          res.once('data', () => (at = performance.now()));
          res.on('data', () => {});
          res.on('end', () => (res.statusCode === 200 ? resolve(at - started) : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    if (i >= 20) times.push(first);
  }
  return median(times);
}

async function spawnGroup(command: string, args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  process.once('exit', () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const check = (chunk: Buffer) => {
      output += chunk;
      if (ready.test(output)) resolve();
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', () => reject(new Error(`${command} exited:\n${output}`)));
  });
  return child;
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function tollgate(
  name: string,
  upstreamUrl: string,
  env: Record<string, string>,
  server?: string,
): Promise<{ target: Target; stop: () => Promise<void> }> {
  const gateway = await startGatewayProcess({ env: { ...TOLLGATE_ENV, ...env }, config: defaultConfigInput(upstreamUrl), server });
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const created = (await (
    await fetch(`${gateway.url}/admin/keys`, { method: 'POST', headers, body: JSON.stringify({ name: 'bench' }) })
  ).json()) as { id: string; key: string };
  // A budget large enough never to refuse: the reservation path is what is measured.
  await fetch(`${gateway.url}/admin/keys/${created.id}/budget`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ limit: '1000000', period: 'month' }),
  });
  return {
    target: {
      name,
      url: `${gateway.url}/v1`,
      headers: { authorization: `Bearer ${created.key}` },
      pgid: gateway.child.pid!,
      countsPostgres: Boolean(env.DATABASE_URL),
    },
    stop: () => gateway.stop(),
  };
}

interface Cell {
  p50Ms: number[];
  ttfbMs: number[];
  rps: number[];
  cpuMs: number[];
  pgCpuMs: number[];
  cpuMsOne: number[];
  pgCpuMsOne: number[];
  rssMiB: number[];
  failures: number;
}

async function main() {
  try {
    await run('wrk', ['--version']).catch((error: { code?: unknown }) => {
      if (error.code === 'ENOENT') throw error;
    });
  } catch {
    throw new Error('wrk is not installed: apt-get install wrk (the load must come from a process of its own)');
  }
  const upstreamPort = await freePort();
  const upstream = await spawnGroup(
    process.execPath,
    ['--import', 'tsx', 'bench/lib/fixed-upstream.ts', String(upstreamPort)],
    /fixed upstream on/,
  );
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}/v1`;
  const portkeyPort = await freePort();
  const portkey = await spawnGroup(
    process.execPath,
    ['node_modules/@portkey-ai/gateway/build/start-server.js', `--port=${portkeyPort}`, '--headless'],
    /(listening|running|ready|port)/i,
  );

  const targets: Target[] = [
    { name: 'upstream directly', url: upstreamUrl, headers: {}, pgid: upstream.pid!, countsPostgres: false },
    {
      name: 'Portkey 1.15.2 (no budgets, no ledger)',
      url: `http://127.0.0.1:${portkeyPort}/v1`,
      headers: { authorization: 'Bearer sk-bench', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstreamUrl },
      pgid: portkey.pid!,
      countsPostgres: false,
    },
  ];
  const bareProxyPort = await freePort();
  const bareProxy = await spawnGroup(
    process.execPath,
    ['--import', 'tsx', 'bench/lib/bare-proxy.ts', String(bareProxyPort), upstreamUrl],
    /bare proxy on/,
  );
  targets.push({
    name: 'bare Node proxy (the hop alone)',
    url: `http://127.0.0.1:${bareProxyPort}/v1`,
    headers: {},
    pgid: bareProxy.pid!,
    countsPostgres: false,
  });
  const stops: (() => Promise<void>)[] = [];
  const pglite = await tollgate('tollgate, PGlite', upstreamUrl, {});
  targets.push(pglite.target);
  stops.push(pglite.stop);
  if (postgresAvailable) {
    const database = await createPostgresDatabase();
    const pg = await tollgate('tollgate, Postgres', upstreamUrl, { DATABASE_URL: database.url });
    targets.push(pg.target);
    stops.push(async () => {
      await pg.stop();
      await database.drop();
    });
    // The same with budget leases (README: "Budget leases"): admissions without a round trip.
    const leasedDatabase = await createPostgresDatabase();
    const leased = await tollgate('tollgate, Postgres, leases', upstreamUrl, {
      DATABASE_URL: leasedDatabase.url,
      TOLLGATE_LEASE_MS: '1000',
    });
    targets.push(leased.target);
    stops.push(async () => {
      await leased.stop();
      await leasedDatabase.drop();
    });
    if (BEFORE) {
      const earlier = await createPostgresDatabase();
      const before = await tollgate('tollgate@before, Postgres', upstreamUrl, { DATABASE_URL: earlier.url }, join(BEFORE, 'dist/node.js'));
      targets.push(before.target);
      stops.push(async () => {
        await before.stop();
        await earlier.drop();
      });
    }
  }

  const cells = new Map<string, Cell>();
  const cell = (target: Target, shape: Shape) => {
    const key = `${target.name}|${shape.name}`;
    if (!cells.has(key))
      cells.set(key, { p50Ms: [], ttfbMs: [], rps: [], cpuMs: [], pgCpuMs: [], cpuMsOne: [], pgCpuMsOne: [], rssMiB: [], failures: 0 });
    return cells.get(key)!;
  };
  const shapes = SHAPES.filter((shape) => wanted(shape.name, ONLY_SHAPES));
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order each round, so drift does not favour whoever goes first.
    const order = (round % 2 === 0 ? targets : [...targets].reverse()).filter(
      (target) => target === targets[0] || wanted(target.name, ONLY_TARGETS),
    );
    for (const target of order) {
      for (const shape of shapes) {
        const c = cell(target, shape);
        const cpuBeforeOne = target.pgid ? groupCpuSeconds(target.pgid) : 0;
        const pgBeforeOne = postgresCpuSeconds();
        const one = await wrk(target, shape, 1);
        c.p50Ms.push(one.p50Ms);
        const servedOne = one.rps * SECONDS;
        if (target.pgid) c.cpuMsOne.push(((groupCpuSeconds(target.pgid) - cpuBeforeOne) * 1000) / Math.max(servedOne, 1));
        if (target.countsPostgres) c.pgCpuMsOne.push(((postgresCpuSeconds() - pgBeforeOne) * 1000) / Math.max(servedOne, 1));
        if (shape.stream) c.ttfbMs.push(await ttfbP50(target, shape).catch(() => Number.NaN));
        const cpuBefore = target.pgid ? groupCpuSeconds(target.pgid) : 0;
        const pgBefore = postgresCpuSeconds();
        const many = await wrk(target, shape, 64);
        const served = many.rps * SECONDS;
        c.rps.push(many.rps);
        if (target.pgid) c.cpuMs.push(((groupCpuSeconds(target.pgid) - cpuBefore) * 1000) / Math.max(served, 1));
        if (target.countsPostgres) c.pgCpuMs.push(((postgresCpuSeconds() - pgBefore) * 1000) / Math.max(served, 1));
        if (target.pgid) c.rssMiB.push(groupRssMiB(target.pgid));
        c.failures += one.failures + many.failures;
        process.stderr.write(
          `round ${round + 1}: ${target.name} / ${shape.name}: p50 ${one.p50Ms.toFixed(2)} ms, ${many.rps.toFixed(0)} req/s\n`,
        );
      }
    }
  }

  const spread = (values: number[], digits: number) =>
    values.length === 0
      ? '-'
      : values.length === 1
        ? values[0]!.toFixed(digits)
        : `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
  for (const shape of shapes) {
    const direct = cells.get(`${targets[0]!.name}|${shape.name}`)!;
    const portkeyCell = cells.get(`${targets[1]!.name}|${shape.name}`);
    const rows = targets.flatMap((target) => {
      const c = cells.get(`${target.name}|${shape.name}`);
      if (!c) return [];
      const failed = c.failures > 0 ? ` (${c.failures} failed)` : '';
      return [
        [
          target.name + failed,
          spread(c.p50Ms, 2),
          target === targets[0]
            ? ''
            : spread(
                c.p50Ms.map((v, i) => v - direct.p50Ms[i]!),
                2,
              ),
          shape.stream
            ? spread(
                c.ttfbMs.map((v, i) => v - (direct.ttfbMs[i] ?? Number.NaN)),
                2,
              )
            : '',
          spread(c.rps, 0),
          target === targets[0] || target === targets[1] || !portkeyCell ? '' : `${(median(c.rps) / median(portkeyCell.rps)).toFixed(2)}×`,
          spread(c.cpuMsOne, 2),
          spread(c.pgCpuMsOne, 2),
          spread(c.cpuMs, 2),
          spread(c.pgCpuMs, 2),
          spread(c.rssMiB, 0),
        ],
      ];
    });
    printTable(
      `${shape.name}: ${SECONDS} s per cell, ${ROUNDS} round(s), wrk -t1 (ranges across rounds)`,
      [
        'target',
        'p50 @1 ms',
        'added p50',
        'added TTFB',
        'req/s @64',
        'vs Portkey',
        'CPU/req @1',
        'PG/req @1',
        'CPU/req @64',
        'PG/req @64',
        'RSS MiB',
      ],
      rows,
    );
  }
  for (const stop of stops) await stop();
  for (const child of [upstream, portkey, bareProxy]) {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {}
  }
}

await main();
process.exit(0);
