import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../doubles/fake-vllm';

// What a service manager or a container runtime does to the gateway: SIGTERM must reach the
// server and drain it, SIGKILL must stop it, and nothing may be left running. Built by the
// globalSetup; `npm start` rebuilds only when dist/ is older than src/.

const ADMIN_TOKEN = 'tgadmin_signals_test_token';
const BACKEND_LATENCY_MS = 1_500;

interface Launched {
  child: ChildProcess;
  url: string;
  port: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let backend: FakeVllm;
let dataDir: string;
const launched: Launched[] = [];

beforeAll(async () => {
  backend = await startFakeVllm({ latencyMs: BACKEND_LATENCY_MS });
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-signals-'));
});

afterEach(async () => {
  // A failed test must not leave a server behind: the whole group goes.
  for (const { child, exited } of launched.splice(0)) {
    if (!groupAlive(child.pid!)) continue;
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  }
});

afterAll(async () => {
  await backend?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// Under `npm test`, npm tells scripts which project they run in (npm_config_local_prefix, npm_package_*); the npm started here finds its own.
const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_(config_local_prefix$|package_|lifecycle_)/i.test(name))),
  ...extra,
});

/** Starts `command` in its own process group on a fresh PGlite folder and waits for its "listening on" line. */
async function launch(command: string, args: string[]): Promise<Launched> {
  const env = cleanEnv({
    PORT: '0',
    TOLLGATE_DATA_DIR: mkdtempSync(join(dataDir, 'data-')),
    TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    UPSTREAM_URL: backend.url,
  });
  const child = spawn(command, args, { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} ${args.join(' ')} did not start in 90 s:\n${output}`)), 90_000);
    child.stdout!.on('data', () => {
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
  const started = { child, url, port: Number(new URL(url).port), output: () => output, exited };
  launched.push(started);
  return started;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function groupGone(pgid: number, timeoutMs = 5_000): Promise<boolean> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    if (!groupAlive(pgid)) return true;
  }
  return false;
}

/** The fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, … */
function procStat(pid: number): string[] {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
}

/** Linux: the process of group `pgid` that holds the socket listening on `port` (/proc/net/tcp, then each one's fds). */
function listeningPid(pgid: number, port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
      if (state === '0A' && Number.parseInt(local!.split(':')[1]!, 16) === port) inodes.add(`socket:[${inode}]`);
    }
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(procStat(Number(entry))[2]) !== pgid) continue;
      if (readdirSync(`/proc/${entry}/fd`).some((fd) => inodes.has(readlinkSync(`/proc/${entry}/fd/${fd}`)))) return Number(entry);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

/** Starts a chat request that the backend holds for BACKEND_LATENCY_MS, and resolves once the backend has it. */
async function requestInFlight(url: string): Promise<Promise<number>> {
  const created = await fetch(`${url}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'signals' }),
  });
  const { key } = (await created.json()) as { key: string };
  // POSTs: the gateway also reads /v1/models at start, at a moment of its own.
  const posted = () => backend.received.filter((request) => request.method === 'POST').length;
  const before = posted();
  const status = fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'drain me' }], max_tokens: 5 }),
  }).then(
    (response) => response.status,
    () => -1,
  );
  for (let tries = 0; posted() === before && tries < 200; tries++) await new Promise((r) => setTimeout(r, 25));
  expect(posted()).toBe(before + 1);
  return status;
}

const onLinux = process.platform === 'linux';

describe('SIGTERM drains the server and stops it', () => {
  test('npm start: SIGTERM to npm reaches the server, which finishes the request in flight, and nothing is left running', async () => {
    const npm = await launch('npm', ['start']);
    if (onLinux) {
      // npm runs the server itself (the script execs node): no shell or transpiler in between.
      const server = listeningPid(npm.child.pid!, npm.port);
      expect(server).toBeDefined();
      expect(Number(procStat(server!)[1])).toBe(npm.child.pid);
      expect(readFileSync(`/proc/${server}/cmdline`, 'utf8').split('\0')).toContain('dist/node.js');
    }
    const inFlight = await requestInFlight(npm.url);
    npm.child.kill('SIGTERM');
    expect(await inFlight).toBe(200);
    expect(await npm.exited).toEqual({ code: 0, signal: null });
    expect(npm.output()).toContain('tollgate: SIGTERM: draining requests and the ledger');
    expect(await groupGone(npm.child.pid!)).toBe(true);
    await expect(fetch(`${npm.url}/healthz`)).rejects.toThrow();
  });

  test.each([
    ['node dist/node.js', process.execPath, ['dist/node.js']],
    ['tollgate serve', join(process.cwd(), 'bin/tollgate.mjs'), ['serve']],
  ])('%s: the spawned process is the server, and SIGTERM to it drains the request in flight', async (_, command, args) => {
    const server = await launch(command, args);
    if (onLinux) expect(listeningPid(server.child.pid!, server.port)).toBe(server.child.pid);
    const inFlight = await requestInFlight(server.url);
    server.child.kill('SIGTERM');
    expect(await inFlight).toBe(200);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('tollgate: SIGTERM: draining requests and the ledger');
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe('SIGKILL', () => {
  test('node dist/node.js: SIGKILL to the spawned process stops the server at once, leaving nothing behind', async () => {
    const server = await launch(process.execPath, ['dist/node.js']);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    server.child.kill('SIGKILL');
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await groupGone(server.child.pid!)).toBe(true);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
