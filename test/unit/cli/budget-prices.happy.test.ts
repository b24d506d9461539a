import { afterEach, beforeEach, expect, test } from 'vitest';
import { cli, startAdminDouble } from './admin-double';

const budget = {
  keyId: 'key_1',
  limit: null,
  limitTokens: 1000000,
  period: 'day',
  timezone: 'UTC',
  softThresholdPct: null,
  spent: '0.5',
  reserved: '0',
  remaining: null,
  spentTokens: 1000,
  reservedTokens: 0,
  remainingTokens: 999000,
  periodStart: '2026-11-29T00:00:00.000Z',
  periodEnd: '2026-11-30T00:00:00.000Z',
};
const price = {
  id: 'price_7',
  model: 'meta-llama/Llama-3-8B',
  prompt: '0.0002',
  completion: '0.0004',
  effectiveFrom: '2026-12-01T00:00:00.000Z',
};

let double: Awaited<ReturnType<typeof startAdminDouble>>;
let env: Record<string, string>;

beforeEach(async () => {
  double = await startAdminDouble({
    'PUT /admin/keys/key_1/budget': { body: budget },
    'GET /admin/keys/key_1/budget': { body: budget },
    'DELETE /admin/keys/key_1/budget': { status: 204 },
    'PUT /admin/models/meta-llama%2FLlama-3-8B/price': { body: price },
    'GET /admin/models/gpt-4/prices': { body: { data: [price, { ...price, id: 'price_6', effectiveFrom: '2026-01-01T00:00:00.000Z' }] } },
    'GET /admin/models/none/prices': { body: { data: [] } },
    'GET /admin/requests/req_abc': {
      body: { requestId: 'req_abc', status: 'ok', promptTokens: 12, billedCost: '0.000012', usageSource: 'backend' },
    },
    'GET /admin/alerts': {
      body: {
        data: [
          {
            keyId: 'key_1',
            kind: 'soft_threshold',
            periodStart: '2026-11-01T00:00:00.000Z',
            createdAt: '2026-11-20T10:00:00.000Z',
            thresholdPct: 80,
          },
        ],
      },
    },
  });
  env = { TOLLGATE_URL: `${double.url}/`, TOLLGATE_ADMIN_TOKEN: 'op-token' };
});
afterEach(() => double.close());

test('budget set sends the window flags and prints the budget', async () => {
  const { code, stdout } = await cli(
    ['budget', 'set', 'key_1', '--tokens', '1000000', '--period', 'day', '--timezone', 'UTC', '--soft', '1'],
    env,
  );
  expect(code).toBe(0);
  expect(double.requests[0]).toMatchObject({
    method: 'PUT',
    url: '/admin/keys/key_1/budget',
    body: { limitTokens: 1000000, period: 'day', timezone: 'UTC', softThresholdPct: 1 },
  });
  expect(stdout).toMatch(/money\s+no limit \(spent 0.5\)/);
  expect(stdout).toMatch(/tokens\s+spent 1000 \+ reserved 0 of 1000000 \(remaining 999000\)/);
});

test('budget set passes the money limit through as the exact string typed', async () => {
  await cli(['budget', 'set', 'key_1', '--limit', '0.100000000000000001'], env);
  expect(double.requests[0]!.body).toEqual({ limit: '0.100000000000000001', period: 'month' });
});

test('budget show', async () => {
  const { code, stdout } = await cli(['budget', 'show', 'key_1', '--json'], env);
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toEqual(budget);
});

test('budget delete accepts an empty 204', async () => {
  const { code, stdout } = await cli(['budget', 'delete', 'key_1'], env);
  expect(code).toBe(0);
  expect(double.requests[0]).toMatchObject({ method: 'DELETE', url: '/admin/keys/key_1/budget' });
  expect(stdout).toBe('Budget removed from key key_1.\n');
});

test('prices set escapes the model name and keeps prices as strings', async () => {
  const { code, stdout } = await cli(
    ['prices', 'set', 'meta-llama/Llama-3-8B', '--prompt', '0.0002', '--completion', '0.0004', '--from', '2026-12-01'],
    env,
  );
  expect(code).toBe(0);
  expect(double.requests[0]!.body).toEqual({ prompt: '0.0002', completion: '0.0004', effectiveFrom: '2026-12-01T00:00:00.000Z' });
  expect(stdout).toContain('prompt 0.0002, completion 0.0004 per 1k tokens');
});

test('prices set without --from lets the gateway choose now', async () => {
  await cli(['prices', 'set', 'meta-llama/Llama-3-8B', '--prompt', '1', '--completion', '2'], env);
  expect(double.requests[0]!.body).toEqual({ prompt: '1', completion: '2' });
});

test('prices list prints a table, or says there are none', async () => {
  const { stdout } = await cli(['prices', 'list', 'gpt-4'], env);
  expect(stdout.split('\n')[0]).toMatch(/^ID\s+MODEL\s+PROMPT\/1K\s+COMPLETION\/1K\s+EFFECTIVE FROM$/);
  expect(stdout).toMatch(/price_6\s+meta-llama\/Llama-3-8B\s+0.0002\s+0.0004\s+2026-01-01/);
  expect((await cli(['prices', 'list', 'none'], env)).stdout).toBe('No prices for none.\n');
});

test('requests show prints every field of the ledger row', async () => {
  const { code, stdout } = await cli(['requests', 'show', 'req_abc'], env);
  expect(code).toBe(0);
  expect(stdout).toMatch(/billedCost\s+0.000012/);
  expect(stdout).toMatch(/usageSource\s+backend/);
});

test('alerts prints a table with the extra fields as detail', async () => {
  const { code, stdout } = await cli(['alerts'], env);
  expect(code).toBe(0);
  expect(stdout.split('\n')[1]).toMatch(/^key_1\s+soft_threshold\s+2026-11-01T00:00:00.000Z\s+2026-11-20T10:00:00.000Z\s+thresholdPct=80$/);
});

test('--url overrides TOLLGATE_URL and --token overrides TOLLGATE_ADMIN_TOKEN', async () => {
  const { code } = await cli(['alerts', '--url', double.url, '--token', 'flag-token'], {
    TOLLGATE_URL: 'http://127.0.0.1:9',
    TOLLGATE_ADMIN_TOKEN: 'env-token',
  });
  expect(code).toBe(0);
  expect(double.requests[0]!.authorization).toBe('Bearer flag-token');
});

test('a URL with a path prefix keeps it', async () => {
  await cli(['alerts', '--url', `${double.url}/gw/`], env);
  expect(double.requests[0]!.url).toBe('/gw/admin/alerts');
});
