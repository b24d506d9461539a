import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../doubles/fake-vllm';

// The package as a user gets it: `npm pack` (its prepack builds dist/), `npm install` of the
// tarball into an empty project (dependencies from the registry), then `npx tollgate serve`.

const ADMIN_TOKEN = 'tgadmin_package_test_token';

// Under `npm test`, npm tells scripts which project they run in (npm_config_local_prefix, npm_package_*);
// the nested npm commands must not inherit that, or they would act on this repository instead of the temporary project.
const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_(config_local_prefix$|package_|lifecycle_)/i.test(name))),
  ...extra,
});

function run(
  command: 'npm' | 'npx',
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: cleanEnv(env), maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** Resolves once no process of the group is left (npx runs the server under npm and a shell). */
async function groupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return true;
    }
  }
  return false;
}

let work: string;
let project: string;
let backend: FakeVllm;
let server: ChildProcess | undefined;
let output = '';
let url: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tollgate-package-'));
  backend = await startFakeVllm();
  await run('npm', ['pack', '--pack-destination', work], process.cwd());
  const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball into ${work}`);
  project = join(work, 'project');
  mkdirSync(project);
  // A package.json of its own, so npm installs here and does not look for a project further up.
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'tollgate-install-check', private: true }));
  await run('npm', ['install', join(work, tarball), '--no-audit', '--no-fund', '--prefer-offline'], project);

  server = spawn('npx', ['tollgate', 'serve'], {
    cwd: project,
    env: cleanEnv({ PORT: '0', TOLLGATE_DATA_DIR: join(work, 'data'), TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN, UPSTREAM_URL: backend.url }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  server.stdout!.on('data', (chunk) => (output += chunk));
  server.stderr!.on('data', (chunk) => (output += chunk));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tollgate serve did not start in 120 s:\n${output}`)), 120_000);
    server!.stdout!.on('data', () => {
      const match = /listening on (http:\/\/[\d.]+:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    server!.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tollgate serve exited with ${code}:\n${output}`));
    });
  });
}, 600_000);

afterAll(async () => {
  if (server?.pid !== undefined) {
    // SIGTERM to the whole group reaches the server itself, whatever npx put above it.
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    if (!(await groupGone(server.pid, 15_000))) process.kill(-server.pid, 'SIGKILL');
  }
  await backend?.close();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('the packed package, installed from its tarball', () => {
  test('ships the bundles and the bin, not the sources, and runs without tsx', () => {
    const installed = join(project, 'node_modules/tollgate');
    for (const file of ['dist/node.js', 'dist/cli.js', 'bin/tollgate.mjs', 'README.md'])
      expect(existsSync(join(installed, file)), file).toBe(true);
    expect(existsSync(join(installed, 'src'))).toBe(false);
    expect(existsSync(join(project, 'node_modules/tsx'))).toBe(false);
  });

  test('tollgate serve answers /healthz', async () => {
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
  });

  test('tollgate keys create makes a key that proxies a chat request to the backend', async () => {
    const { stdout } = await run('npx', ['tollgate', 'keys', 'create', '--name', 't', '--json'], project, {
      TOLLGATE_URL: url,
      TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    });
    const { key } = JSON.parse(stdout) as { key: string };
    expect(key).toBeTruthy();
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'Hello from the package' }], max_tokens: 5 }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { usage: { completion_tokens: number } };
    expect(body.usage.completion_tokens).toBe(5);
    // POSTs only: the gateway also reads each backend's /v1/models at start (the max_model_len check).
    expect(backend.received.filter((request) => request.method === 'POST')).toHaveLength(1);
  });
});
