import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { cli, type Reply, startAdminDouble } from './admin-double';

const created = {
  id: 'key_1',
  key: 'tg_secret_abcdef123456',
  prefix: 'tg_secre',
  name: 'ci-bot',
  scopes: ['proxy'],
  allowedModels: ['gpt-4', 'gpt-4-32k'],
  expiresAt: '2027-01-01T00:00:00.000Z',
  createdAt: '2026-11-29T00:00:00.000Z',
  options: { rpm: 60 },
};

const budget = {
  keyId: 'key_1',
  limit: '10',
  limitTokens: null,
  period: 'month',
  timezone: 'Europe/Berlin',
  softThresholdPct: 80,
  spent: '1.25',
  reserved: '0.10',
  remaining: '8.65',
  spentTokens: 1200,
  reservedTokens: 100,
  remainingTokens: null,
  periodStart: '2026-10-31T23:00:00.000Z',
  periodEnd: '2026-11-30T23:00:00.000Z',
};

let double: Awaited<ReturnType<typeof startAdminDouble>>;
let env: Record<string, string>;

async function start(routes: Record<string, Reply>) {
  double = await startAdminDouble(routes);
  env = { TOLLGATE_URL: double.url, TOLLGATE_ADMIN_TOKEN: 'op-token' };
}

afterEach(() => double?.close());

describe('keys create', () => {
  beforeEach(() => start({ 'POST /admin/keys': { status: 201, body: created }, 'PUT /admin/keys/key_1/budget': { body: budget } }));

  test('sends only the given fields, with the operator token', async () => {
    const { code } = await cli(['keys', 'create', '--name', 'ci-bot'], env);
    expect(code).toBe(0);
    expect(double.requests).toEqual([
      { method: 'POST', url: '/admin/keys', authorization: 'Bearer op-token', contentType: 'application/json', body: { name: 'ci-bot' } },
    ]);
  });

  test('maps every flag to the create body, then sets the budget with money as a string', async () => {
    const { code, stdout } = await cli(
      [
        'keys',
        'create',
        '--name',
        'ci-bot',
        '--scopes',
        'proxy,reports',
        '--models',
        'gpt-4, gpt-4-32k',
        '--expires',
        '2027-01-01T01:00:00+01:00',
        '--budget',
        '10.000001',
        '--budget-tokens',
        '100000',
        '--period',
        'week',
        '--timezone',
        'Europe/Berlin',
        '--soft',
        '80',
        '--rpm',
        '60',
        '--tpm',
        '100000',
        '--shrink-max-tokens',
        '--default-max-tokens',
        '1024',
        '--fail-open',
      ],
      env,
    );
    expect(code).toBe(0);
    expect(double.requests.map((r) => [r.method, r.url, r.body])).toEqual([
      [
        'POST',
        '/admin/keys',
        {
          name: 'ci-bot',
          scopes: ['proxy', 'reports'],
          allowedModels: ['gpt-4', 'gpt-4-32k'],
          expiresAt: '2027-01-01T00:00:00.000Z',
          options: { rpm: 60, tpm: 100000, shrinkMaxTokens: true, defaultMaxTokens: 1024, failOpen: true },
        },
      ],
      [
        'PUT',
        '/admin/keys/key_1/budget',
        { limit: '10.000001', limitTokens: 100000, period: 'week', timezone: 'Europe/Berlin', softThresholdPct: 80 },
      ],
    ]);
    expect(stdout).toContain('Created key key_1.');
    expect(stdout).toContain('spent 1.25 + reserved 0.10 of 10 (remaining 8.65)');
  });

  test('a budget defaults to the month period', async () => {
    await cli(['keys', 'create', '--name', 'ci-bot', '--budget-tokens', '5000'], env);
    expect(double.requests[1]!.body).toEqual({ limitTokens: 5000, period: 'month' });
  });

  test('prints the secret once, with the warning that it is shown only once', async () => {
    const { stdout } = await cli(['keys', 'create', '--name', 'ci-bot'], env);
    expect(stdout.split(created.key)).toHaveLength(2);
    expect(stdout).toMatch(/shown only once/);
  });

  test('--json prints the created key with its budget; the warning goes to stderr', async () => {
    const { code, stdout, stderr } = await cli(['keys', 'create', '--name', 'ci-bot', '--budget', '10', '--json'], env);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ ...created, budget });
    expect(stderr).toMatch(/shown only once/);
  });
});

describe('keys list, show, revoke, rotate', () => {
  const listed = [
    { ...created, key: undefined, revokedAt: null },
    { ...created, key: undefined, id: 'key_2', name: 'old', allowedModels: null, expiresAt: null, revokedAt: '2026-11-01T00:00:00.000Z' },
  ];

  beforeEach(() =>
    start({
      'GET /admin/keys': { body: { data: listed } },
      'GET /admin/keys/key_1': { body: listed[0] },
      'GET /admin/keys/key_1/budget': { body: budget },
      'GET /admin/keys/key_2': { body: listed[1] },
      'DELETE /admin/keys/key_1': { body: { id: 'key_1', revokedAt: '2026-11-29T01:00:00.000Z' } },
      'POST /admin/keys/key_1/rotate': { body: { id: 'key_1', key: 'tg_new_secret_999', prefix: 'tg_new_s' } },
    }),
  );

  test('list prints a table with status, and never a secret', async () => {
    const { code, stdout } = await cli(['keys', 'list'], env);
    expect(code).toBe(0);
    const [header, first, second] = stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+NAME\s+PREFIX\s+STATUS\s+SCOPES\s+MODELS\s+CREATED\s+EXPIRES$/);
    expect(first).toMatch(/^key_1\s+ci-bot\s+tg_secre\s+active\s+proxy\s+gpt-4,gpt-4-32k\s/);
    expect(second).toMatch(/^key_2\s+old\s+tg_secre\s+revoked\s+proxy\s+any\s+.*never$/);
    expect(stdout).not.toContain(created.key);
  });

  test('list --json prints the response as is (flags may precede the command)', async () => {
    const { stdout } = await cli(['--json', 'keys', 'list'], env);
    expect(JSON.parse(stdout)).toEqual(JSON.parse(JSON.stringify({ data: listed })));
  });

  test('show fetches the key and its budget', async () => {
    const { code, stdout } = await cli(['keys', 'show', 'key_1'], env);
    expect(code).toBe(0);
    expect(double.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /admin/keys/key_1', 'GET /admin/keys/key_1/budget']);
    expect(stdout).toMatch(/period\s+month \(Europe\/Berlin\), 2026-10-31T23:00:00.000Z → 2026-11-30T23:00:00.000Z/);
    expect(stdout).toMatch(/soft alert\s+80%/);
    expect(stdout).toMatch(/options\s+rpm=60/);
  });

  test('show treats a 404 budget as no budget', async () => {
    const { code, stdout } = await cli(['keys', 'show', 'key_2', '--json'], env);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).budget).toBeNull();
    expect((await cli(['keys', 'show', 'key_2'], env)).stdout).toContain('Budget: none');
  });

  test('revoke', async () => {
    const { code, stdout } = await cli(['keys', 'revoke', 'key_1'], env);
    expect(code).toBe(0);
    expect(double.requests[0]).toMatchObject({ method: 'DELETE', url: '/admin/keys/key_1', body: undefined });
    expect(stdout).toBe('Revoked key key_1 at 2026-11-29T01:00:00.000Z.\n');
  });

  test('rotate prints the new secret once', async () => {
    const { code, stdout } = await cli(['keys', 'rotate', 'key_1'], env);
    expect(code).toBe(0);
    expect(stdout).toContain('tg_new_secret_999');
    expect(stdout).toMatch(/shown only once/);
  });

  test('ids are escaped into the path', async () => {
    await cli(['keys', 'show', 'a/b?c'], env);
    expect(double.requests[0]!.url).toBe('/admin/keys/a%2Fb%3Fc');
  });
});
