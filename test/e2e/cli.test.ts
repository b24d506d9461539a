import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startGatewayProcess } from '../support/gateway';

// The operator CLI as operators run it (`node bin/tollgate.mjs`), against `npm start` on PGlite.

const BIN = join(process.cwd(), 'bin/tollgate.mjs');

let gateway: Awaited<ReturnType<typeof startGatewayProcess>>;
let env: Record<string, string>;

function tollgate(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env, ...extraEnv }, cwd: '/' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const modelsWith = (key: string) => fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });

beforeAll(async () => {
  gateway = await startGatewayProcess();
  env = { TOLLGATE_URL: gateway.url, TOLLGATE_ADMIN_TOKEN: gateway.adminToken };
});

afterAll(async () => {
  await gateway?.stop();
});

describe('tollgate CLI against the real gateway', () => {
  let id: string;
  let secret: string;

  test('keys create with a budget prints the key and its budget', async () => {
    const created = await tollgate([
      'keys',
      'create',
      '--name',
      'e2e-cli',
      '--models',
      'gpt-4',
      '--budget',
      '5',
      '--period',
      'month',
      '--soft',
      '80',
      '--rpm',
      '60',
      '--json',
    ]);
    expect(created.stderr).toContain('shown only once');
    expect(created.code).toBe(0);
    const body = JSON.parse(created.stdout);
    expect(body).toMatchObject({
      name: 'e2e-cli',
      scopes: ['proxy'],
      allowedModels: ['gpt-4'],
      options: { rpm: 60 },
      budget: { period: 'month' },
    });
    id = body.id;
    secret = body.key;
    expect((await modelsWith(secret)).status).toBe(200);
  });

  test('keys list shows it as active, without the secret', async () => {
    const listed = await tollgate(['keys', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+e2e-cli\\s+\\S+\\s+active\\s`, 'm'));
    expect(listed.stdout).not.toContain(secret);
  });

  test('prices set adds a version that prices list shows', async () => {
    const set = await tollgate([
      'prices',
      'set',
      'gpt-4',
      '--prompt',
      '0.025',
      '--completion',
      '0.05',
      '--from',
      '2026-01-01T00:00:00Z',
      '--json',
    ]);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ model: 'gpt-4', effectiveFrom: '2026-01-01T00:00:00.000Z' });
    const listed = await tollgate(['prices', 'list', 'gpt-4']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/gpt-4\s+0\.025\d*\s+0\.05\d*\s+2026-01-01T00:00:00.000Z/);
  });

  test('budget show and keys show report the budget', async () => {
    const shown = await tollgate(['budget', 'show', id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/period\s+month/);
    expect(shown.stdout).toMatch(/money\s+spent \S+ \+ reserved \S+ of 5/);
    const key = await tollgate(['keys', 'show', id, '--json']);
    expect(key.code).toBe(0);
    const { budget } = JSON.parse(key.stdout);
    expect(budget).toMatchObject({ keyId: id, period: 'month', softThresholdPct: 80 });
    expect(Number(budget.limit)).toBe(5);
  });

  test('keys revoke: exit 0, and the key then gets 401 from /v1/models', async () => {
    const revoked = await tollgate(['keys', 'revoke', id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`Revoked key ${id}`);
    expect((await modelsWith(secret)).status).toBe(401);
    expect((await tollgate(['keys', 'list'])).stdout).toMatch(new RegExp(`^${id}\\s+e2e-cli\\s+\\S+\\s+revoked\\s`, 'm'));
  });

  test('exit codes: 1 for a gateway error, 2 for usage, 3 when unreachable', async () => {
    const missing = await tollgate(['keys', 'show', 'key_does_not_exist']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('code: key_not_found');

    const wrongToken = await tollgate(['keys', 'list'], { TOLLGATE_ADMIN_TOKEN: 'not-the-token' });
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toContain('HTTP 401');

    const usage = await tollgate(['keys', 'create', '--budget', '10']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('missing required flag --name');

    const unreachable = await tollgate(['keys', 'list'], { TOLLGATE_URL: 'http://127.0.0.1:9' });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('cannot reach the gateway at http://127.0.0.1:9');
  });
});
