import { sql } from 'drizzle-orm';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { ADMIN_TOKEN, startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { caller, fromJson, ledgerSums, movableClock, readCsv, sumRows } from './support';

// A `reports` key limited to team A must see team A's usage and nothing else: not team B's key by
// id, by filter, by tag or in any total, not usage of keys in no team; what lies outside answers
// as if it did not exist. A key without the `reports` scope gets 403 on every report route.

const DAY = { from: '2026-11-10', to: '2026-11-11' };
const RANGE = [new Date('2026-11-10T00:00:00Z'), new Date('2026-11-11T00:00:00Z')] as const;

describe.each(databases)('report scope isolation on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestGateway;
  const clock = movableClock(new Date('2026-11-10T12:00:00Z'));
  const teams = { a: '', b: '' };
  const keys: Record<'a' | 'b' | 'none' | 'app', { id: string; key: string }> = {} as never;
  let limited: ReturnType<typeof caller>;
  let operator: ReturnType<typeof caller>;
  let statementOfB = '';

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 4 });
    const config = testConfig(backend.url, (input) => {
      input.gateway = { ...input.gateway, tags: { allowed: ['project'] } };
    });
    gateway = await startTestGateway({ store: await database.open(), config, now: clock.now });
    for (const name of ['a', 'b'] as const) {
      teams[name] = ((await (await gateway.admin('POST', '/admin/teams', { name: `team ${name}` })).json()) as { id: string }).id;
    }
    keys.a = await gateway.createKey({ name: 'alpha-app', teamId: teams.a });
    keys.b = await gateway.createKey({ name: 'beta-app', teamId: teams.b });
    keys.none = await gateway.createKey({ name: 'loose-app' });
    keys.app = keys.a;
    for (const who of ['a', 'b'] as const) {
      await gateway.admin('PUT', `/admin/keys/${keys[who].id}/budget`, { limit: '5', period: 'month' });
    }
    const send = async (who: 'a' | 'b' | 'none', tags: string, n: number) => {
      const client = new OpenAI({ apiKey: keys[who].key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
      for (let i = 0; i < n; i++) {
        clock.set(new Date(Date.parse('2026-11-10T12:00:00Z') + i * 60_000));
        await client.chat.completions.create(
          { model: 'gpt-4', messages: [{ role: 'user', content: `${who} ${i}` }], max_tokens: 4 },
          { headers: tags ? { 'x-tollgate-tags': tags } : {} },
        );
      }
    };
    await send('a', 'project=alpha', 3);
    await send('b', 'project=beta', 4);
    await send('none', '', 2);
    await gateway.ledger.flush();
    clock.set('2026-12-02T00:00:00Z');
    const closed = (await (await gateway.admin('POST', '/reports/periods/2026-11/close')).json()) as {
      statements: { id: string; team: { id: string } | null }[];
    };
    statementOfB = closed.statements.find((s) => s.team?.id === teams.b)!.id;
    const created = await gateway.createKey({ name: 'finance-a', scopes: ['reports'], reportTeams: [teams.a] });
    limited = caller(gateway.url, created.key);
    operator = caller(gateway.url, ADMIN_TOKEN);
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
  });

  const usage = async (api: ReturnType<typeof caller>, query: string) => {
    const response = await api(`/reports/usage?from=${DAY.from}&to=${DAY.to}&${query}`);
    expect(response.status).toBe(200);
    return (await response.json()) as { rows: Record<string, unknown>[]; totals: never };
  };

  test('totals, groupings and CSV cover team A only', async () => {
    const teamA = await ledgerSums(gateway.store, ...RANGE, { teamIds: [teams.a] });
    expect(teamA.requests).toBe(3n);
    for (const groupBy of ['', 'team', 'key', 'model', 'status', 'tag:project', 'team,key,tag:project']) {
      const report = await usage(limited, `groupBy=${groupBy}&bucket=hour`);
      expect(fromJson(report.totals), groupBy).toEqual(teamA);
      expect(sumRows(report.rows as never)).toEqual(teamA);
      const csv = await limited(`/reports/usage?from=${DAY.from}&to=${DAY.to}&groupBy=${groupBy}&format=csv`);
      expect(readCsv(await csv.text()).sums).toEqual(teamA);
      expect(fromJson(JSON.parse(csv.headers.get('x-tollgate-report')!).totals)).toEqual(teamA);
    }
    expect((await usage(limited, 'groupBy=key')).rows.map((row) => row.keyId)).toEqual([keys.a.id]);
    expect((await usage(limited, 'groupBy=tag:project')).rows.map((row) => row['tag:project'])).toEqual(['alpha']);
    // The operator sees all three.
    expect(fromJson((await usage(operator, '')).totals)).toEqual(await ledgerSums(gateway.store, ...RANGE));
  });

  test("another team's key, team, tag or keys in no team: empty, as if they did not exist", async () => {
    for (const query of [
      `key=${keys.b.id}`,
      `key=${keys.none.id}`,
      `team=${teams.b}`,
      'team=none',
      'tag:project=beta',
      `key=key_does_not_exist`,
    ]) {
      const report = await usage(limited, `${query}&groupBy=key`);
      expect(report.rows, query).toEqual([]);
      expect(report.totals, query).toEqual({ requests: 0, promptTokens: 0, completionTokens: 0, cost: '0' });
    }
    const requests = async (query: string) =>
      ((await (await limited(`/reports/requests?from=${DAY.from}&to=${DAY.to}&${query}`)).json()) as { data: { keyId: string }[] }).data;
    expect(new Set((await requests('')).map((row) => row.keyId))).toEqual(new Set([keys.a.id]));
    expect(await requests(`key=${keys.b.id}`)).toEqual([]);
    expect(await requests('tag:project=beta')).toEqual([]);
    const csv = readCsv(await (await limited(`/reports/requests?from=${DAY.from}&to=${DAY.to}&format=csv`)).text());
    expect(new Set(csv.rows.map((row) => row.keyId))).toEqual(new Set([keys.a.id]));

    const budgets = (await (await limited('/reports/budgets')).json()) as { rows: { keyId: string | null; teamId: string }[] };
    expect(budgets.rows.map((row) => row.teamId)).toEqual([teams.a, teams.a]);
    expect((await (await limited(`/reports/budgets?key=${keys.b.id}`)).json()) as { rows: unknown[] }).toMatchObject({ rows: [] });

    const directory = (await (await limited('/reports/teams')).json()) as {
      data: { id: string; keys: { id: string }[] }[];
      keysInNoTeam: unknown[];
    };
    expect(directory.data.map((team) => [team.id, team.keys.map((k) => k.id)])).toEqual([[teams.a, [keys.a.id]]]);
    expect(directory.keysInNoTeam).toEqual([]);

    const reprice = (await (
      await limited('/reports/reprice', {
        method: 'POST',
        body: { ...DAY, groupBy: ['key'], prices: { 'gpt-4': { prompt: '1', completion: '1' } } },
      })
    ).json()) as { rows: { keyId: string }[] };
    expect(reprice.rows.map((row) => row.keyId)).toEqual([keys.a.id]);
  });

  test("statements: another team's by id is 404, lists hold only team A's", async () => {
    const other = await limited(`/reports/statements/${statementOfB}`);
    expect(other.status).toBe(404);
    expect(await (await limited(`/reports/statements/${statementOfB}?format=csv`)).status).toBe(404);
    // Word for word the answer for an id that does not exist.
    const missing = await limited('/reports/statements/stmt_missing');
    expect(missing.status).toBe(404);
    const [hidden, absent] = (await Promise.all([other.json(), missing.json()])) as { error: { message: string; code: string } }[];
    expect(hidden!.error.message.replace(statementOfB, 'ID')).toBe(absent!.error.message.replace('stmt_missing', 'ID'));
    expect(hidden!.error.code).toBe(absent!.error.code);
    const list = (await (await limited('/reports/statements')).json()) as { data: { team: { id: string } }[] };
    expect(list.data.map((s) => s.team.id)).toEqual([teams.a]);
    const periods = (await (await limited('/reports/periods')).json()) as { data: { statements: { team: { id: string } }[] }[] };
    expect(periods.data.flatMap((p) => p.statements.map((s) => s.team.id))).toEqual([teams.a]);
    expect((await operator(`/reports/statements/${statementOfB}`)).status).toBe(200);
  });

  test('the tie-out and the audit log cover every team: 403 for a limited key; closing is the operator’s', async () => {
    expect((await limited(`/reports/reconcile?from=${DAY.from}&to=${DAY.to}`)).status).toBe(403);
    expect((await limited('/reports/audit?from=2026-01-01&to=2030-01-01')).status).toBe(403);
    expect((await limited('/reports/periods/2026-10/close', { method: 'POST' })).status).toBe(403);
    const unlimited = caller(gateway.url, (await gateway.createKey({ name: 'finance-all', scopes: ['reports'] })).key);
    expect((await unlimited(`/reports/reconcile?from=${DAY.from}&to=${DAY.to}`)).status).toBe(200);
    expect((await unlimited('/reports/periods/2026-10/close', { method: 'POST' })).status).toBe(403);
    expect((await unlimited('/admin/keys')).status).toBe(403);
  });

  test('an application key (proxy scope only) gets 403 on every report route; no key gets 401', async () => {
    const app = caller(gateway.url, keys.app.key);
    const routes: [string, string][] = [
      ['GET', `/reports/usage?from=${DAY.from}&to=${DAY.to}`],
      ['GET', `/reports/requests?from=${DAY.from}&to=${DAY.to}`],
      ['GET', '/reports/budgets'],
      ['GET', `/reports/reconcile?from=${DAY.from}&to=${DAY.to}`],
      ['POST', '/reports/reprice'],
      ['GET', '/reports/audit?from=2026-01-01&to=2030-01-01'],
      ['GET', '/reports/teams'],
      ['GET', '/reports/periods'],
      ['GET', '/reports/periods/2026-11'],
      ['POST', '/reports/periods/2026-11/close'],
      ['GET', '/reports/statements'],
      ['GET', `/reports/statements/${statementOfB}`],
    ];
    for (const [method, path] of routes) {
      const response = await app(path, { method, ...(method === 'POST' ? { body: {} } : {}) });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('insufficient_scope');
      expect((await caller(gateway.url, 'tg_not_a_key')(path, { method })).status, path).toBe(401);
    }
    // Nothing above wrote anything: the ledger and the statements are as they were.
    const [row] = await gateway.store.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM statements`);
    expect(row!.n).toBe(3);
  });
});
