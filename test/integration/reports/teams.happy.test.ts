import { sql } from 'drizzle-orm';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { movableClock } from './support';

// Teams through the admin API, key moves that bind from the next request, and the audit log of
// what operators did (readable through the reports API, and append-only in the database).

describe.each(databases)('teams and the audit log on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestGateway;
  const clock = movableClock(new Date('2026-10-20T12:00:00Z'));

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 3 });
    gateway = await startTestGateway({ store: await database.open(), config: testConfig(backend.url), now: clock.now });
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
  });

  const json = async <T>(response: Response | Promise<Response>, status: number): Promise<T> => {
    const r = await response;
    const body = (await r.json()) as T;
    expect(r.status, JSON.stringify(body)).toBe(status);
    return body;
  };

  test('create, list, show and rename teams; names are unique', async () => {
    const search = await json<{ id: string; name: string; costCenter: string | null; keyIds: string[] }>(
      gateway.admin('POST', '/admin/teams', { name: 'Search', costCenter: 'CC-4100' }),
      201,
    );
    expect(search).toMatchObject({ id: expect.stringMatching(/^team_/), name: 'Search', costCenter: 'CC-4100', keyIds: [] });
    const taken = await json<{ error: { code: string } }>(gateway.admin('POST', '/admin/teams', { name: 'Search' }), 409);
    expect(taken.error.code).toBe('team_name_taken');
    await json(gateway.admin('POST', '/admin/teams', { name: '' }), 400);
    const renamed = await json<{ name: string; costCenter: string | null }>(
      gateway.admin('PATCH', `/admin/teams/${search.id}`, { name: 'Search & Ranking', costCenter: null }),
      200,
    );
    expect(renamed).toMatchObject({ name: 'Search & Ranking', costCenter: null });
    await json(gateway.admin('PATCH', '/admin/teams/team_nope', { name: 'x' }), 404);
    const list = await json<{ data: { id: string; name: string }[] }>(gateway.admin('GET', '/admin/teams'), 200);
    expect(list.data.map((t) => t.name)).toContain('Search & Ranking');
  });

  test('a key moves between teams from its next request; its earlier rows keep their team', async () => {
    const red = await json<{ id: string }>(gateway.admin('POST', '/admin/teams', { name: 'Red' }), 201);
    const blue = await json<{ id: string }>(gateway.admin('POST', '/admin/teams', { name: 'Blue' }), 201);
    const key = await gateway.createKey({ name: 'mover', teamId: red.id });
    await json(gateway.admin('POST', '/admin/keys', { name: 'bad', teamId: 'team_nope' }), 404);
    await json(gateway.admin('POST', '/admin/keys', { name: 'bad', scopes: ['reports'], reportTeams: ['team_nope'] }), 404);
    const client = new OpenAI({ apiKey: key.key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const ask = () => client.chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    await ask();
    const moved = await json<{ teamId: string }>(gateway.admin('PATCH', `/admin/keys/${key.id}`, { teamId: blue.id }), 200);
    expect(moved.teamId).toBe(blue.id);
    await ask();
    await json(gateway.admin('PATCH', `/admin/keys/${key.id}`, { teamId: null }), 200);
    await ask();
    await gateway.ledger.flush();
    const rows = await gateway.store.rows<{ team_id: string | null }>(
      sql`SELECT team_id FROM usage_events WHERE key_id = ${key.id} ORDER BY started_at, recorded_at`,
    );
    expect(rows.map((row) => row.team_id)).toEqual([red.id, blue.id, null]);
    const shown = await json<{ keyIds: string[] }>(gateway.admin('GET', `/admin/teams/${blue.id}`), 200);
    expect(shown.keyIds).toEqual([]);
  });

  test('operator actions and report exports are in the audit log, which cannot be edited', async () => {
    const team = await json<{ id: string }>(gateway.admin('POST', '/admin/teams', { name: 'Audited' }), 201);
    const key = await gateway.createKey({ name: 'audited', teamId: team.id });
    await json(gateway.admin('PUT', `/admin/keys/${key.id}/budget`, { limit: '3', period: 'day' }), 200);
    await json(gateway.admin('DELETE', `/admin/keys/${key.id}/budget`), 200);
    await json(gateway.admin('PUT', '/admin/models/gpt-4/price', { prompt: '0.02', completion: '0.04' }), 201);
    await json(gateway.admin('PATCH', `/admin/keys/${key.id}`, { name: 'audited-2', options: { rpm: 10 } }), 200);
    await json(gateway.admin('POST', `/admin/keys/${key.id}/rotate`), 200);
    await json(gateway.admin('DELETE', `/admin/keys/${key.id}`), 200);
    const csv = await gateway.admin('GET', '/reports/usage?from=2026-10-01&to=2026-11-01&format=csv');
    expect(csv.status).toBe(200);
    await csv.text();
    clock.set('2026-11-02T00:00:00Z');
    await json(gateway.admin('POST', '/reports/periods/2026-10/close'), 201);

    const audit = await json<{
      data: { actor: string; action: string; target: string; detail: Record<string, unknown>; requestId: string }[];
    }>(gateway.admin('GET', '/reports/audit?from=2026-01-01&to=2030-01-01&limit=1000'), 200);
    const of = (action: string) =>
      audit.data.filter(
        (entry) =>
          entry.action === action &&
          (entry.target === key.id || action.startsWith('report') || action.startsWith('period') || action.startsWith('price')),
      );
    for (const action of ['key.create', 'budget.set', 'budget.delete', 'key.update', 'key.rotate', 'key.revoke']) {
      expect(of(action), action).toHaveLength(1);
    }
    expect(of('key.create')[0]!.detail).toMatchObject({ name: 'audited', teamId: team.id });
    expect(JSON.stringify(audit.data)).not.toContain(key.key);
    expect(of('price.add')[0]).toMatchObject({ actor: 'operator', target: 'gpt-4', detail: { prompt: '0.02', completion: '0.04' } });
    expect(of('report.export')[0]).toMatchObject({ target: 'usage', detail: { format: 'csv' } });
    expect(of('period.close')[0]).toMatchObject({ target: '2026-10' });
    expect(audit.data.every((entry) => entry.actor === 'operator' && entry.requestId)).toBe(true);
    expect(audit.data.find((entry) => entry.action === 'team.create')).toBeDefined();

    const page = await json<{ data: { id: number }[]; nextCursor: string }>(
      gateway.admin('GET', '/reports/audit?from=2026-01-01&to=2030-01-01&limit=2'),
      200,
    );
    const next = await json<{ data: { id: number }[] }>(
      gateway.admin('GET', `/reports/audit?from=2026-01-01&to=2030-01-01&limit=2&cursor=${page.nextCursor}`),
      200,
    );
    expect(next.data[0]!.id).toBeLessThan(page.data[1]!.id);

    await expect(gateway.store.rows(sql`UPDATE audit_log SET actor = 'someone else'`)).rejects.toThrow();
    await expect(gateway.store.rows(sql`DELETE FROM audit_log`)).rejects.toThrow();
  });
});
