import { afterEach, describe, expect, test } from 'vitest';
import { cli, startAdminDouble } from './admin-double';

let double: Awaited<ReturnType<typeof startAdminDouble>>;
let env: Record<string, string>;

async function start(routes: Parameters<typeof startAdminDouble>[0]) {
  double = await startAdminDouble(routes);
  env = { TOLLGATE_URL: double.url, TOLLGATE_ADMIN_TOKEN: 'op-token' };
}

afterEach(async () => {
  await double?.close();
});

const usage = {
  object: 'report.usage',
  query: { from: '2026-11-01T04:00:00.000Z', to: '2026-12-01T05:00:00.000Z', tz: 'America/New_York' },
  source: 'rollup',
  columns: [
    'bucketStart',
    'bucketEnd',
    'teamId',
    'teamName',
    'costCenter',
    'tag:project',
    'requests',
    'promptTokens',
    'completionTokens',
    'cost',
  ],
  rows: [
    {
      bucketStart: '2026-11-01T00:00:00-04:00',
      bucketEnd: '2026-11-02T00:00:00-05:00',
      teamId: 'team_a',
      teamName: 'Search',
      costCenter: 'CC-1',
      'tag:project': 'search',
      requests: 3,
      promptTokens: 300,
      completionTokens: 30,
      cost: '0.0108',
    },
    {
      bucketStart: '2026-11-01T00:00:00-04:00',
      bucketEnd: '2026-11-02T00:00:00-05:00',
      teamId: null,
      teamName: null,
      costCenter: null,
      'tag:project': null,
      requests: 1,
      promptTokens: 100,
      completionTokens: 10,
      cost: '0.0036',
    },
  ],
  totals: { requests: 4, promptTokens: 400, completionTokens: 40, cost: '0.0144' },
};

const usagePath =
  '/reports/usage?from=2026-11-01&to=2026-12-01&tz=America%2FNew_York&team=team_a%2Cnone&tag%3Aproject=search%2C&bucket=day&groupBy=team%2Ctag%3Aproject';

describe('tollgate report', () => {
  test('usage: the query as the API takes it; a table that names the untagged bucket and keys in no team, and the totals', async () => {
    await start({ [`GET ${usagePath}`]: { body: usage } });
    const argv = ['report', 'usage', '--from', '2026-11-01', '--to', '2026-12-01', '--tz', 'America/New_York', '--bucket', 'day'];
    const { code, stdout, stderr } = await cli(
      [...argv, '--group-by', 'team,tag:project', '--team', 'team_a,none', '--tag', 'project=search,'],
      env,
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(double.requests[0]).toMatchObject({ method: 'GET', url: usagePath, authorization: 'Bearer op-token' });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('Usage 2026-11-01T04:00:00.000Z → 2026-12-01T05:00:00.000Z (America/New_York), from the rollup:');
    expect(lines[1]).toMatch(
      /^BUCKETSTART\s+TEAMID\s+TEAMNAME\s+COSTCENTER\s+TAG:PROJECT\s+REQUESTS\s+PROMPTTOKENS\s+COMPLETIONTOKENS\s+COST$/,
    );
    expect(lines[2]).toMatch(/^2026-11-01T00:00:00-04:00\s+team_a\s+Search\s+CC-1\s+search\s+3\s+300\s+30\s+0.0108$/);
    expect(lines[3]).toMatch(/^2026-11-01T00:00:00-04:00\s+\(no team\)\s+-\s+-\s+\(untagged\)\s+1\s+100\s+10\s+0.0036$/);
    expect(lines[4]).toBe('Total: 4 requests, 400 prompt + 40 completion tokens, $0.0144');
  });

  test('usage --format csv prints the gateway’s CSV byte for byte; --format json the JSON', async () => {
    const csv = 'teamId,requests,cost\r\n"\'=HYPERLINK(""x"")",1,0.5\r\n';
    const path = '/reports/usage?from=2026-11-01&to=2026-12-01&groupBy=team';
    await start({ [`GET ${path}`]: { raw: csv, headers: { 'content-type': 'text/csv; charset=utf-8' } } });
    const out = await cli(['report', 'usage', '--from', '2026-11-01', '--to', '2026-12-01', '--group-by', 'team', '--format', 'csv'], env);
    expect(out).toMatchObject({ code: 0, stdout: csv });
    await double.close();
    await start({ [`GET ${path}`]: { body: usage } });
    const json = await cli(['report', 'usage', '--from', '2026-11-01', '--to', '2026-12-01', '--group-by', 'team', '--json'], env);
    expect(JSON.parse(json.stdout)).toEqual(usage);
  });

  test('reconcile: exit 0 when it ties out, 4 with the differences when it does not', async () => {
    const result = (ok: boolean) => ({
      ok,
      query: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' },
      checks: [
        {
          name: 'rollup',
          ok,
          description: 'ledger rows = rollup',
          compared: 10,
          differences: ok ? [] : [{ keyId: 'key_1', requestIds: ['req_1'] }],
        },
        { name: 'budgetWindows', ok: true, description: 'windows', compared: 2, differences: [] },
      ],
      totals: { ledger: { requests: 10, promptTokens: 1, completionTokens: 1, cost: '1' } },
    });
    const path = '/reports/reconcile?from=2026-11-01&to=2026-12-01';
    await start({ [`GET ${path}`]: { body: result(true) } });
    const good = await cli(['report', 'reconcile', '--from', '2026-11-01', '--to', '2026-12-01'], env);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('ties out');
    await double.close();
    await start({ [`GET ${path}`]: { body: result(false) } });
    const bad = await cli(['report', 'reconcile', '--from', '2026-11-01', '--to', '2026-12-01'], env);
    expect(bad.code).toBe(4);
    expect(bad.stdout).toContain('DIFF  rollup');
    expect(bad.stdout).toContain('req_1');
    expect(bad.stderr).toContain('the tie-out found differences');
  });

  test('close, statement (HTML as sent) and reprice send what the API takes', async () => {
    const statement = {
      id: 'stmt_1',
      period: '2026-10',
      team: null,
      totals: { requests: 1, promptTokens: 1, completionTokens: 1, cost: '1' },
    };
    await start({
      'POST /reports/periods/2026-10/close': {
        status: 201,
        body: { period: '2026-10', periodStart: 'a', periodEnd: 'b', timezone: 'UTC', statements: [statement] },
      },
      'GET /reports/statements/stmt_1': { raw: '<!doctype html><p>statement</p>', headers: { 'content-type': 'text/html' } },
      'POST /reports/reprice': {
        body: {
          columns: ['model', 'billedCost'],
          rows: [{ model: 'gpt-4', billedCost: '1' }],
          unpricedModels: [],
          totals: { billedCost: '1', candidateCost: '0.5', differencePct: '-50.00' },
        },
      },
    });
    const closed = await cli(['report', 'close', '2026-10'], env);
    expect(closed.code).toBe(0);
    expect(closed.stdout).toContain('stmt_1');
    expect(double.requests[0]).toMatchObject({ method: 'POST', body: {} });
    expect(await cli(['report', 'statement', 'stmt_1', '--format', 'html'], env)).toMatchObject({
      code: 0,
      stdout: '<!doctype html><p>statement</p>',
    });
    const reprice = await cli(
      ['report', 'reprice', '--from', '2026-10-01', '--to', '2026-11-01', '--price', 'gpt-4=0.02/0.04', '--price', 'llama=0.001/0'],
      env,
    );
    expect(reprice.code).toBe(0);
    expect(reprice.stdout).toContain('Billed $1; at the candidate prices $0.5 (-50.00%).');
    expect(double.requests.at(-1)!.body).toEqual({
      from: '2026-10-01',
      to: '2026-11-01',
      prices: { 'gpt-4': { prompt: '0.02', completion: '0.04' }, llama: { prompt: '0.001', completion: '0' } },
    });
  });

  test.each([
    [['report', 'usage', '--from', '2026-11-01'], 'missing required flag --to.'],
    [['report', 'usage', '--from', '2026-11-01', '--to', '2026-12-01', '--tag', 'project'], '--tag must be NAME=VALUES'],
    [['report', 'usage', '--from', '2026-11-01', '--to', '2026-12-01', '--format', 'xml'], '--format must be one of table, csv, json'],
    [['report', 'usage', '--from', 'yesterday', '--to', '2026-12-01'], '--from must be an ISO 8601 time'],
    [
      ['report', 'reprice', '--from', '2026-11-01', '--to', '2026-12-01', '--price', 'gpt-4=cheap'],
      '--price must be MODEL=PROMPT/COMPLETION',
    ],
    [['teams', 'rename', 'team_1'], 'give --name and/or --cost-center.'],
  ])('%j is a usage error (exit 2) before any request', async (argv, message) => {
    await start({});
    const { code, stderr } = await cli(argv, env);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(double.requests).toEqual([]);
  });
});

describe('tollgate teams', () => {
  test('create, list and move keys between teams (none: to no team)', async () => {
    const team = { id: 'team_1', name: 'Search', costCenter: 'CC-1', createdAt: '2026-11-29T00:00:00.000Z', keyIds: [] };
    await start({
      'POST /admin/teams': { status: 201, body: team },
      'GET /admin/teams': { body: { object: 'list', data: [{ ...team, keyIds: ['key_1', 'key_2'] }] } },
      'PATCH /admin/keys/key_1': (request) => ({ body: { id: 'key_1', teamId: (request.body as { teamId: string | null }).teamId } }),
    });
    expect(await cli(['teams', 'create', '--name', 'Search', '--cost-center', 'CC-1'], env)).toMatchObject({ code: 0 });
    expect(double.requests[0]).toMatchObject({ method: 'POST', url: '/admin/teams', body: { name: 'Search', costCenter: 'CC-1' } });
    const list = await cli(['teams', 'list'], env);
    expect(list.stdout).toMatch(/team_1\s+Search\s+CC-1\s+2/);
    expect((await cli(['teams', 'move', 'key_1', 'team_1'], env)).stdout).toBe('Key key_1 is now billed to team team_1.\n');
    expect((await cli(['teams', 'move', 'key_1', 'none'], env)).stdout).toBe('Key key_1 is now in no team.\n');
    expect(double.requests.at(-1)).toMatchObject({ method: 'PATCH', body: { teamId: null } });
  });
});
