import { sql } from 'drizzle-orm';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { costOf, parseUsd } from '../../../src/pricing';
import { localMidnights } from '../../../src/store/reports-usage';
import { sweep } from '../../../src/usage';
import { type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { ADMIN_TOKEN, startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { admission, settlement } from '../support/ledger';
import { addSums, caller, fromJson, ledgerSums, localDate, movableClock, readCsv, type Sums, sumRows } from './support';

// One generated history through the real gateway (fake vLLM behind it, the clock moved by the
// test): two teams and a key in none, two models and a failing one, tags and the `user` field, a
// price change, a key moving between teams, streams cut short, refusals, days across the New York
// DST changes and Kolkata's half-hour offset, then a month closed with usage settling after it.
// Every report is checked against sums taken straight over the ledger rows, and the tie-out runs
// after each step.

const ZONES = ['UTC', 'America/New_York', 'Asia/Kolkata'] as const;
const BUCKETS = ['none', 'hour', 'day', 'week', 'month'] as const;
const GROUPINGS = ['', 'team', 'key,model', 'tag:project', 'status,tag:env', 'team,key,model,status,tag:project,tag:env'] as const;
const RANGES = [
  ['2026-10-30', '2026-11-03'],
  ['2026-03-07', '2026-03-10'],
] as const;

/** When requests start (the gateway's clock): DST days in New York, Kolkata midnights (18:30Z), a month's end. */
const TIMES = [
  '2026-03-07T23:30:00Z',
  '2026-03-08T06:30:00Z', // 01:30 EST, then the clocks jump to 03:00
  '2026-03-08T07:30:00Z', // 03:30 EDT: the 23-hour day
  '2026-03-09T03:00:00Z', // still 8 March in New York
  '2026-10-30T12:00:00Z',
  '2026-10-31T18:29:59Z', // 23:59:59 in Kolkata
  '2026-10-31T18:30:00Z', // midnight in Kolkata: 1 November there
  '2026-10-31T23:59:59.999Z',
  '2026-11-01T00:00:00Z', // November in UTC, still 31 October in New York
  '2026-11-01T03:59:00Z',
  '2026-11-01T04:00:00Z', // 1 November in New York: the 25-hour day
  '2026-11-01T05:30:00Z', // 01:30 EDT
  '2026-11-01T06:30:00Z', // 01:30 EST, the same wall time an hour later
  '2026-11-01T10:00:00Z', // the key moves from search to ads here
  '2026-11-01T12:00:00Z', // the new gpt-4 price takes effect here
  '2026-11-01T12:00:01Z',
  '2026-11-02T04:59:00Z', // 23:59 EST on 1 November
  '2026-11-02T05:00:00Z',
  '2026-11-02T18:29:00Z',
  '2026-11-02T18:30:00Z',
] as const;

const KINDS = ['json', 'stream', 'cut', 'refused', 'failed', 'wide'] as const;

describe.each(databases)('reports over a generated history on $name', (database) => {
  let backend: FakeVllm;
  let failing: FakeVllm;
  let gateway: TestGateway;
  const clock = movableClock(new Date(TIMES[0]));
  let api: ReturnType<typeof caller>;
  const teams = { search: '', ads: '' };
  const keys: Record<'search' | 'ads' | 'mover' | 'loose', { id: string; key: string }> = {} as never;

  /** The tie-out over a range must find nothing, every time. */
  async function expectTiesOut(from: string, to: string, tz = 'UTC') {
    const response = await api(`/reports/reconcile?from=${from}&to=${to}&tz=${tz}`);
    const result = (await response.json()) as { ok: boolean; checks: { name: string; ok: boolean; differences: unknown[] }[] };
    expect(response.status).toBe(200);
    expect(result.checks.filter((check) => !check.ok)).toEqual([]);
    expect(result.ok).toBe(true);
  }

  async function send(i: number, at: string) {
    clock.set(at);
    const who = (['search', 'ads', 'mover', 'loose'] as const)[i % 4]!;
    const kind = KINDS[i % KINDS.length]!;
    const client = new OpenAI({ apiKey: keys[who].key, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const tags = [{ 'x-tollgate-tags': 'project=search,env=prod' }, { 'x-tollgate-tags': 'project=ads' }, {}][i % 3]!;
    const user = i % 5 === 0 ? { user: `end-user-${i % 2}` } : {};
    const headers = { ...tags, 'x-tollgate-context-policy': 'reject' };
    const messages = [{ role: 'user' as const, content: `history request ${i}` }];
    if (kind === 'json' || kind === 'wide') {
      await client.chat.completions.create(
        { model: kind === 'wide' ? 'gpt-4-32k' : 'gpt-4', messages, max_tokens: 9, ...user },
        { headers },
      );
    } else if (kind === 'stream') {
      const stream = await client.chat.completions.create({ model: 'gpt-4', messages, stream: true, ...user }, { headers });
      for await (const _ of stream);
    } else if (kind === 'cut') {
      // The client hangs up after the first token: billed for what was generated.
      const stream = await client.chat.completions.create({ model: 'gpt-4', messages, stream: true }, { headers });
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) break;
    } else if (kind === 'refused') {
      await expect(
        client.chat.completions.create(
          { model: 'gpt-4', messages: [{ role: 'user', content: 'x '.repeat(9000) }], max_tokens: 9 },
          { headers },
        ),
      ).rejects.toMatchObject({ status: 400 });
    } else {
      await expect(client.chat.completions.create({ model: 'sick', messages }, { headers })).rejects.toMatchObject({ status: 500 });
    }
  }

  async function settleEverything() {
    await gateway.ledger.flush(30_000);
    for (let tries = 0; tries < 100; tries++) {
      const [row] = await gateway.store.rows<{ pending: number }>(
        sql`SELECT count(*)::int AS pending FROM usage_events WHERE status = 'pending'`,
      );
      if (row!.pending === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
      await gateway.ledger.flush(5_000);
    }
    throw new Error('requests still pending');
  }

  beforeAll(async () => {
    backend = await startFakeVllm({ completionTokens: 12, chunkDelayMs: 3 });
    failing = await startFakeVllm({
      fail: { status: 500, body: { object: 'error', message: 'CUDA out of memory', type: 'InternalServerError', code: 500 } },
    });
    const config = testConfig(backend.url, (input) => {
      input.backends.sick = { url: failing.url };
      input.models.sick = { backend: 'sick', contextWindow: 4096, pricePer1k: { prompt: '0.000123', completion: '0.000456' } };
      input.gateway = { ...input.gateway, tags: { allowed: ['project', 'env'] } };
    });
    gateway = await startTestGateway({ store: await database.open(), config, now: clock.now });
    api = caller(gateway.url, ADMIN_TOKEN);
    for (const [name, costCenter] of [
      ['search', 'CC-100'],
      ['ads', 'CC-200'],
    ] as const) {
      const response = await gateway.admin('POST', '/admin/teams', { name, costCenter });
      teams[name] = ((await response.json()) as { id: string }).id;
    }
    keys.search = await gateway.createKey({ name: 'search-app', teamId: teams.search });
    keys.ads = await gateway.createKey({ name: 'ads-app', teamId: teams.ads });
    keys.mover = await gateway.createKey({ name: 'mover', teamId: teams.search });
    keys.loose = await gateway.createKey({ name: '=HYPERLINK("http://evil.example","x")' });
    expect(
      (await gateway.admin('PUT', `/admin/keys/${keys.search.id}/budget`, { limit: '50', period: 'month', timezone: 'America/New_York' }))
        .status,
    ).toBe(200);
    const price = await gateway.admin('PUT', '/admin/models/gpt-4/price', {
      prompt: '0.01',
      completion: '0.02',
      effectiveFrom: '2026-11-01T12:00:00Z',
    });
    expect(price.status).toBe(201);

    let i = 0;
    for (const at of TIMES) {
      if (at === '2026-11-01T10:00:00Z') {
        expect((await gateway.admin('PATCH', `/admin/keys/${keys.mover.id}`, { teamId: teams.ads })).status).toBe(200);
      }
      for (let n = 0; n < 3; n++) await send(i++, at);
    }
    await settleEverything();
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
    await failing?.close();
  });

  test('the history has every kind of row it should', async () => {
    const rows = await gateway.store.rows<{ status: string; n: number }>(
      sql`SELECT status, count(*)::int AS n FROM usage_events GROUP BY 1 ORDER BY 1`,
    );
    expect(Object.fromEntries(rows.map((r) => [r.status, r.n]))).toEqual({
      ok: 30,
      client_disconnected: 10,
      rejected: 10,
      upstream_error: 10,
    });
    for (const [from, to] of RANGES) await expectTiesOut(from, to);
  });

  test('every report total equals the ledger to the unit, as JSON and as CSV, in every zone, bucket and grouping', async () => {
    for (const tz of ZONES) {
      for (const [fromDate, toDate] of RANGES) {
        const [from, to] = await localMidnights(gateway.store, [fromDate, toDate], tz);
        const ledger = await ledgerSums(gateway.store, from!, to!);
        expect(ledger.requests).toBeGreaterThan(0n);
        for (const bucket of BUCKETS) {
          for (const groupBy of GROUPINGS) {
            const query = `/reports/usage?from=${fromDate}&to=${toDate}&tz=${tz}&bucket=${bucket}&groupBy=${groupBy}`;
            const json = (await (await api(query)).json()) as { rows: never[]; totals: never; source: string };
            expect(json.source).toBe('rollup');
            expect(fromJson(json.totals), query).toEqual(ledger);
            expect(sumRows(json.rows), query).toEqual(ledger);
            const csv = await api(`${query}&format=csv`);
            expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8; header=present');
            const meta = JSON.parse(csv.headers.get('x-tollgate-report')!) as { totals: never; query: { tz: string } };
            expect(fromJson(meta.totals)).toEqual(ledger);
            expect(meta.query.tz).toBe(tz);
            expect(readCsv(await csv.text()).sums, `${query} (CSV)`).toEqual(ledger);
          }
        }
        // The rest folded into one row per bucket: nothing is lost.
        const top = (await (await api(`/reports/usage?from=${fromDate}&to=${toDate}&tz=${tz}&bucket=day&groupBy=key&top=1`)).json()) as {
          rows: { other: boolean }[];
          totals: never;
        };
        expect(top.rows.some((row) => row.other)).toBe(true);
        expect(sumRows(top.rows as never)).toEqual(ledger);
        // A range that is not whole quarter hours is answered from the ledger rows, exactly too.
        const odd = (await (
          await api(`/reports/usage?from=${new Date(from!.getTime() + 1).toISOString()}&to=${toDate}&tz=${tz}&groupBy=team`)
        ).json()) as {
          source: string;
          totals: never;
        };
        expect(odd.source).toBe('ledger');
        expect(fromJson(odd.totals)).toEqual(await ledgerSums(gateway.store, new Date(from!.getTime() + 1), to!));
      }
    }
    // The whole days and hours asked for were compacted on the way (and the tie-out checks them).
    const [segments] = await gateway.store.rows<{ days: number; hours: number }>(sql`
      SELECT count(*) FILTER (WHERE segment_end - segment_start >= interval '23 hours')::int AS days,
        count(*) FILTER (WHERE segment_end - segment_start = interval '1 hour')::int AS hours
      FROM usage_compact_segments`);
    expect(segments!.days).toBeGreaterThanOrEqual(3 * 7);
    expect(segments!.hours).toBeGreaterThan(0);
  });

  test('filters select what the ledger says they should', async () => {
    const [from, to] = [new Date('2026-10-30T00:00:00Z'), new Date('2026-11-03T00:00:00Z')];
    const base = '/reports/usage?from=2026-10-30&to=2026-11-03';
    const totals = async (query: string) => fromJson(((await (await api(`${base}&${query}`)).json()) as { totals: never }).totals);
    expect(await totals(`team=${teams.search}`)).toEqual(await ledgerSums(gateway.store, from, to, { teamIds: [teams.search] }));
    expect(await totals(`team=none`)).toEqual(await ledgerSums(gateway.store, from, to, { teamIds: [null] }));
    expect(await totals(`key=${keys.mover.id},${keys.ads.id}`)).toEqual(
      await ledgerSums(gateway.store, from, to, { keyIds: [keys.mover.id, keys.ads.id] }),
    );
    // The tag filter, untagged bucket included, partitions the usage.
    const byTag = await Promise.all(['tag:project=search', 'tag:project=ads', 'tag:project='].map(totals));
    expect(addSums(byTag)).toEqual(await ledgerSums(gateway.store, from, to));
    expect(await totals('tag:project=search,')).toEqual(addSums([byTag[0]!, byTag[2]!]));
    const byUser = (await (await api(`${base}&groupBy=tag:user`)).json()) as { rows: Record<string, unknown>[] };
    expect(byUser.rows.map((row) => row['tag:user']).sort()).toEqual(['end-user-0', 'end-user-1', null].sort());
  });

  test('a day in New York or Kolkata holds exactly that local day’s requests (DST days are 23 and 25 hours)', async () => {
    const rows = await gateway.store.rows<{ started_ms: number }>(
      sql`SELECT (extract(epoch FROM started_at) * 1000)::float8 AS started_ms FROM usage_events WHERE status <> 'pending'`,
    );
    for (const tz of ['America/New_York', 'Asia/Kolkata', 'UTC']) {
      for (const [fromDate, toDate] of RANGES) {
        const report = (await (await api(`/reports/usage?from=${fromDate}&to=${toDate}&tz=${tz}&bucket=day`)).json()) as {
          rows: { bucketStart: string; bucketEnd: string; requests: number }[];
        };
        const expected = new Map<string, number>();
        for (const row of rows) {
          const day = localDate(new Date(Number(row.started_ms)), tz);
          if (day >= fromDate && day < toDate) expected.set(day, (expected.get(day) ?? 0) + 1);
        }
        expect(new Map(report.rows.map((row) => [row.bucketStart.slice(0, 10), row.requests])), `${tz} ${fromDate}`).toEqual(expected);
        for (const row of report.rows) expect(row.bucketStart.slice(10, 19)).toBe('T00:00:00');
      }
    }
    const hours = async (tz: string, from: string, to: string) => {
      const { rows: days } = (await (await api(`/reports/usage?from=${from}&to=${to}&tz=${tz}&bucket=day`)).json()) as {
        rows: { bucketStart: string; bucketEnd: string }[];
      };
      return days.map((d) => (Date.parse(d.bucketEnd) - Date.parse(d.bucketStart)) / 3_600_000);
    };
    expect(await hours('America/New_York', '2026-03-08', '2026-03-09')).toEqual([23]);
    expect(await hours('America/New_York', '2026-11-01', '2026-11-02')).toEqual([25]);
    const kolkata = (await (await api('/reports/usage?from=2026-11-01&to=2026-11-02&tz=Asia/Kolkata&bucket=day')).json()) as {
      rows: { bucketStart: string; bucketEnd: string }[];
    };
    expect(kolkata.rows.map((r) => [r.bucketStart, r.bucketEnd])).toEqual([['2026-11-01T00:00:00+05:30', '2026-11-02T00:00:00+05:30']]);
  });

  test('a price change bills later requests at the new price and re-prices nothing; the preview shows both', async () => {
    const rows = await gateway.store.rows<{
      started_ms: number;
      prompt_tokens: number;
      completion_tokens: number;
      billed_cost: string;
    }>(sql`
      SELECT (extract(epoch FROM started_at) * 1000)::float8 AS started_ms, prompt_tokens, completion_tokens, billed_cost::text
      FROM usage_events WHERE coalesce(routed_model, requested_model) = 'gpt-4' AND status <> 'rejected'`);
    const change = Date.parse('2026-11-01T12:00:00Z');
    for (const row of rows) {
      const per1k = Number(row.started_ms) >= change ? { prompt: '0.01', completion: '0.02' } : { prompt: '0.03', completion: '0.06' };
      const price = { promptPer1k: parseUsd(per1k.prompt), completionPer1k: parseUsd(per1k.completion) };
      expect(BigInt(row.billed_cost)).toBe(
        costOf(price, { promptTokens: row.prompt_tokens, completionTokens: row.completion_tokens }).total,
      );
    }
    const preview = await api('/reports/reprice', {
      method: 'POST',
      body: { from: '2026-10-30', to: '2026-11-03', prices: { 'gpt-4': { prompt: '0.01', completion: '0.02' } } },
    });
    const body = (await preview.json()) as {
      rows: { model: string; billedCost: string; candidateCost: string; promptTokens: number; completionTokens: number }[];
      totals: { billedCost: string };
    };
    const gpt4 = body.rows.find((row) => row.model === 'gpt-4')!;
    expect(parseUsd(gpt4.candidateCost)).toBe(costOf({ promptPer1k: parseUsd('0.01'), completionPer1k: parseUsd('0.02') }, gpt4).total);
    const ledger = await ledgerSums(gateway.store, new Date('2026-10-30T00:00:00Z'), new Date('2026-11-03T00:00:00Z'));
    expect(parseUsd(body.totals.billedCost)).toBe(ledger.cost);
    await expectTiesOut('2026-10-30', '2026-11-03');
  });

  test('a key that moved teams: earlier usage stays with the old team, later usage goes to the new one', async () => {
    const rows = await gateway.store.rows<{ team_id: string; before: boolean; n: number }>(sql`
      SELECT team_id, started_at < '2026-11-01T10:00:00Z' AS before, count(*)::int AS n FROM usage_events
      WHERE key_id = ${keys.mover.id} AND started_at >= '2026-10-01' GROUP BY 1, 2 ORDER BY 2`);
    expect(rows.map((r) => [r.team_id, r.before])).toEqual([
      [teams.ads, false],
      [teams.search, true],
    ]);
    const byTeam = (await (await api(`/reports/usage?from=2026-10-30&to=2026-11-03&key=${keys.mover.id}&groupBy=team`)).json()) as {
      rows: { teamId: string; teamName: string; costCenter: string; requests: number }[];
    };
    expect(byTeam.rows.map((r) => [r.teamName, r.costCenter, r.requests]).sort()).toEqual(
      rows.map((r) => [r.team_id === teams.ads ? 'ads' : 'search', r.team_id === teams.ads ? 'CC-200' : 'CC-100', r.n]).sort(),
    );
    const audit = (await (await api('/reports/audit?from=2026-01-01&to=2030-01-01&action=key.move')).json()) as {
      data: { target: string; detail: unknown }[];
    };
    expect(audit.data).toEqual([
      expect.objectContaining({ target: keys.mover.id, detail: { fromTeamId: teams.search, toTeamId: teams.ads } }),
    ]);
  });

  test('closing October issues statements; usage settling after the close is an adjustment on November, never an edit', async () => {
    // Two requests of 31 October are still in flight when the month closes.
    const late = admission(keys.ads.id, { startedAt: new Date('2026-10-31T20:00:00Z'), promptTokens: 321, maxCompletionTokens: 40 });
    const swept = admission(keys.loose.id, { startedAt: new Date('2026-10-31T21:00:00Z'), promptTokens: 111, maxCompletionTokens: 40 });
    expect(await gateway.ledger.admit(late)).toMatchObject({ admitted: true });
    expect(await gateway.ledger.admit(swept)).toMatchObject({ admitted: true });

    clock.set('2026-11-15T00:00:00Z');
    const close = await api('/reports/periods/2026-10/close', { method: 'POST' });
    expect(close.status).toBe(201);
    const closed = (await close.json()) as { statements: { id: string; team: { id: string } | null; totals: never }[] };
    const october = [new Date('2026-10-01T00:00:00Z'), new Date('2026-11-01T00:00:00Z')] as const;
    const booked = await ledgerSums(gateway.store, ...october);
    expect(sumRows(closed.statements.map((s) => s.totals))).toEqual(booked);
    const before = await Promise.all(closed.statements.map(async (s) => (await api(`/reports/statements/${s.id}`)).text()));
    expect((await api('/reports/periods/2026-10/close', { method: 'POST' })).status).toBe(409);

    // Then they finish: one settles, the other is swept.
    gateway.ledger.settle(
      settlement(late.requestId, {
        promptTokens: 321,
        completionTokens: 7,
        billedCost: costOf({ promptPer1k: parseUsd('0.03'), completionPer1k: parseUsd('0.06') }, { promptTokens: 321, completionTokens: 7 })
          .total,
      }),
    );
    await gateway.ledger.flush();
    expect(await sweep(gateway.store, { olderThanMs: 600_000, now: new Date('2026-11-15T00:00:00Z') })).toBe(1);

    // 31 October was compacted before these rows became final: reports add them from the ledger.
    const [day] = await gateway.store.rows<{ behind: boolean }>(sql`
      SELECT c.through < (SELECT min(recorded_at) FROM usage_events WHERE request_id IN (${late.requestId}, ${swept.requestId})) AS behind
      FROM usage_compact_segments c WHERE c.segment_start = '2026-10-31T00:00:00Z' AND c.segment_end = '2026-11-01T00:00:00Z'`);
    expect(day).toEqual({ behind: true });
    const lastDay = [new Date('2026-10-31T00:00:00Z'), new Date('2026-11-01T00:00:00Z')] as const;
    const report = (await (await api('/reports/usage?from=2026-10-31&to=2026-11-01&groupBy=key')).json()) as { totals: never };
    expect(fromJson(report.totals)).toEqual(await ledgerSums(gateway.store, ...lastDay));

    const after = await Promise.all(closed.statements.map(async (s) => (await api(`/reports/statements/${s.id}`)).text()));
    expect(after).toEqual(before);
    for (const text of after) expect(JSON.parse(text)).toMatchObject({ verified: true });
    const period = (await (await api('/reports/periods/2026-10')).json()) as { lateUsageNotYetBooked: never[] };
    const lateTotal = sumRows(period.lateUsageNotYetBooked);
    expect(lateTotal.requests).toBe(2n);
    expect(lateTotal.cost).toBe((await ledgerSums(gateway.store, ...october)).cost - booked.cost);
    await expectTiesOut('2026-10-01', '2026-12-01');

    // The database itself refuses to change an issued statement.
    await expect(gateway.store.rows(sql`UPDATE statements SET cost = 0`)).rejects.toThrow();
    await expect(gateway.store.rows(sql`DELETE FROM statement_lines`)).rejects.toThrow();

    clock.set('2026-12-02T00:00:00Z');
    const november = (await (await api('/reports/periods/2026-11/close', { method: 'POST' })).json()) as { statements: { id: string }[] };
    const lines: { kind: string; usagePeriod: string; keyId: string; requests: number; cost: string }[] = [];
    const totals: Sums[] = [];
    for (const { id } of november.statements) {
      const statement = (await (await api(`/reports/statements/${id}`)).json()) as {
        lines: typeof lines;
        totals: { total: never };
        verified: boolean;
      };
      expect(statement.verified).toBe(true);
      lines.push(...statement.lines);
      totals.push(fromJson(statement.totals.total));
    }
    const adjustments = lines.filter((line) => line.kind === 'adjustment');
    expect(adjustments.map((line) => [line.usagePeriod, line.keyId, line.requests]).sort()).toEqual(
      [
        ['2026-10', keys.ads.id, 1],
        ['2026-10', keys.loose.id, 1],
      ].sort(),
    );
    expect(sumRows(adjustments as never)).toEqual(lateTotal);
    // October's statements plus November's (usage and adjustments) = the ledger of both months, to the unit.
    const allStatements = addSums([sumRows(closed.statements.map((s) => s.totals)), ...totals]);
    expect(allStatements).toEqual(await ledgerSums(gateway.store, october[0], new Date('2026-12-01T00:00:00Z')));
    await expectTiesOut('2026-10-01', '2026-12-01');
    await expectTiesOut('2026-03-01', '2026-04-01', 'America/New_York');

    // Printable and CSV forms of a statement: names are escaped, formulas defused.
    const loose = november.statements.find(Boolean)!;
    const html = await api(`/reports/statements/${loose.id}?format=html`);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(await html.text()).not.toContain('<script');
    const noTeam = (await (await api('/reports/statements?period=2026-11&team=none')).json()) as { data: { id: string }[] };
    const csv = await (await api(`/reports/statements/${noTeam.data[0]!.id}`, { accept: 'text/csv' })).text();
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(csv).not.toMatch(/(^|,)=HYPERLINK/m);
  });
});
