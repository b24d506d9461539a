// GET /metrics scraped and parsed as Prometheus would: after a run of mixed requests (answers,
// streams, backend errors, cut streams, quota and context refusals), the request, token and cost
// counters agree with the ledger, to the unit of each counter.
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FakeVllm } from '../../doubles/fake-vllm';
import { chat, type ReplicaGateway, replicaConfigInput, startReplicaGateway, startReplicas, until } from '../backends/replicas';
import { setBudget } from '../billing/ledger-view';
import { readStream } from '../billing/stream-client';
import { databases, type TestStore } from '../support/databases';

type Families = ReturnType<typeof parsePrometheusTextFormat>;

async function scrape(gateway: ReplicaGateway): Promise<{ families: Families; text: string; contentType: string | null }> {
  const response = await fetch(`${gateway.url}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { families: parsePrometheusTextFormat(text), text, contentType: response.headers.get('content-type') };
}

/** The samples of one family whose labels include `match`. */
function samples(families: Families, name: string, match: Record<string, string> = {}) {
  const family = families.find((f) => f.name === name);
  if (!family) throw new Error(`no metric ${name}`);
  return family.metrics.filter((sample) => Object.entries(match).every(([label, value]) => sample.labels?.[label] === value));
}
const sum = (families: Families, name: string, match: Record<string, string> = {}) =>
  samples(families, name, match).reduce((total, sample) => total + Number(sample.value), 0);

/**
 * Observations of a histogram, from its `_count` series whose labels include `match`. Read from
 * the text: parse-prometheus-text-format folds a labelled histogram's series into one.
 */
function observations(text: string, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const sample = new RegExp(`^${name}_count(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (!sample) continue;
    const labels = Object.fromEntries([...(sample[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(match).every(([label, value]) => labels[label] === value)) total += Number(sample[2]);
  }
  return total;
}

describe.each(databases)('/metrics on $name', (database) => {
  let replicas: FakeVllm[];
  let store: TestStore;
  let gateway: ReplicaGateway;
  let rich: { id: string; key: string };

  beforeAll(async () => {
    replicas = await startReplicas(4, { completionTokens: 7 });
    replicas[2]!.behave({ fail: { status: 500 } });
    replicas[3]!.behave({ completionTokens: 30, fail: { kind: 'disconnect', afterChunks: 3 } });
    store = await database.open();
    gateway = await startReplicaGateway({
      store,
      config: replicaConfigInput(replicas.slice(0, 2), (input) => {
        input.backends.r2 = { url: replicas[2]!.url };
        input.backends.r3 = { url: replicas[3]!.url };
        // Prices with many decimals, so cost sums are not round numbers.
        input.models['gpt-4'].pricePer1k = { prompt: '0.000123457', completion: '0.000987653' };
        input.models.sick = { backend: 'r2', contextWindow: 4096, pricePer1k: { prompt: '0.001', completion: '0.002' } };
        input.models.flaky = { backend: 'r3', contextWindow: 4096, pricePer1k: { prompt: '0.003', completion: '0.007001' } };
      }),
    });
    rich = await gateway.createKey({ name: 'rich' });
    await setBudget(gateway.admin, rich.id, '100');
  });
  afterAll(async () => {
    await gateway?.stop();
    await store?.close();
    for (const replica of replicas ?? []) await replica.close();
  });

  test('requests, tokens and cost agree with the ledger; histograms, gauges and HTTP answers are there, with bounded labels', async () => {
    const poor = await gateway.createKey({ name: 'poor' });
    await setBudget(gateway.admin, poor.id, '0.0001');
    const post = (key: string, body: unknown, headers: Record<string, string> = {}) =>
      gateway.post(key, '/v1/chat/completions', body, headers);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await post(rich.key, chat({ messages: [{ role: 'user', content: `question ${i}` }] }))).status);
    for (let i = 0; i < 4; i++) {
      const response = await post(rich.key, chat({ stream: true, stream_options: { include_usage: i % 2 === 0 } }));
      statuses.push(response.status);
      expect((await readStream(response)).error).toBeNull();
    }
    for (let i = 0; i < 3; i++) statuses.push((await post(rich.key, chat({ model: 'sick' }))).status);
    const cut = await post(rich.key, chat({ model: 'flaky', stream: true, max_tokens: 40 }));
    expect((await readStream(cut)).error).toMatchObject({ code: 'upstream_stream_broken' });
    for (let i = 0; i < 2; i++) statuses.push((await post(poor.key, chat({ max_tokens: 2000 }))).status);
    for (let i = 0; i < 2; i++)
      statuses.push((await post(rich.key, chat({ max_tokens: 9000 }), { 'x-tollgate-context-policy': 'reject' })).status);
    expect((await post('tg_not_a_key', chat())).status).toBe(401);
    expect(statuses.sort()).toEqual([...Array(10).fill(200), 400, 400, 429, 429, 500, 500, 500]);

    await until('every row final', async () => {
      await gateway.flush();
      const [row] = await store.rows<{ pending: number }>(sql`SELECT count(*)::int AS pending FROM usage_events WHERE status = 'pending'`);
      return row!.pending === 0 && gateway.ledger.waiting === 0;
    });
    const ledger = await store.rows<{
      model: string;
      status: string;
      requests: number;
      prompt: string;
      completion: string;
      cost: string;
    }>(sql`
      SELECT coalesce(routed_model, requested_model) AS model, status, count(*)::int AS requests, sum(prompt_tokens)::text AS prompt,
        sum(completion_tokens)::text AS completion, sum(billed_cost)::text AS cost
      FROM usage_events GROUP BY 1, 2 ORDER BY 1, 2`);
    expect(ledger.reduce((total, row) => total + row.requests, 0)).toBe(18);

    const { families, text, contentType } = await scrape(gateway);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const row of ledger) {
      const where = `${row.model} ${row.status}`;
      expect(sum(families, 'tollgate_requests_total', { model: row.model, status: row.status }), where).toBe(row.requests);
    }
    const models = [...new Set(ledger.map((row) => row.model))];
    for (const model of models) {
      const rows = ledger.filter((row) => row.model === model);
      const total = (read: (row: (typeof rows)[number]) => string) => rows.reduce((acc, row) => acc + BigInt(read(row)), 0n);
      expect(sum(families, 'tollgate_prompt_tokens_total', { model }), model).toBe(Number(total((row) => row.prompt)));
      expect(sum(families, 'tollgate_completion_tokens_total', { model }), model).toBe(Number(total((row) => row.completion)));
      // To the unit of the counter: nanodollars, floored from the exact picodollar total.
      expect(BigInt(sum(families, 'tollgate_cost_nanodollars_total', { model })), model).toBe(total((row) => row.cost) / 1000n);
    }
    expect(samples(families, 'tollgate_cost_nanodollars_total').every((s) => Number.isInteger(Number(s.value)))).toBe(true);
    expect(sum(families, 'tollgate_cost_nanodollars_total')).toBeGreaterThan(0);

    // Outcomes name what happened, in bounded words.
    expect(sum(families, 'tollgate_requests_total', { model: 'sick', status: 'upstream_error', outcome: 'upstream_5xx' })).toBe(3);
    expect(sum(families, 'tollgate_requests_total', { model: 'flaky', status: 'upstream_error', outcome: 'upstream_stream_broken' })).toBe(
      1,
    );
    expect(sum(families, 'tollgate_requests_total', { model: 'gpt-4', status: 'rejected', outcome: 'insufficient_quota' })).toBe(2);
    expect(sum(families, 'tollgate_requests_total', { model: 'gpt-4', status: 'rejected', outcome: 'context_length_exceeded' })).toBe(2);
    expect(sum(families, 'tollgate_requests_total', { model: 'gpt-4', status: 'ok', outcome: 'ok' })).toBe(10);

    // Histograms: one observation per admitted request's final row, per admission, per attempt's head.
    const admitted = ledger.filter((row) => row.status !== 'rejected');
    for (const model of models) {
      const expected = admitted.filter((row) => row.model === model).reduce((acc, row) => acc + row.requests, 0);
      expect(observations(text, 'tollgate_request_duration_seconds', { model }), model).toBe(expected);
    }
    expect(observations(text, 'tollgate_admission_seconds')).toBe(16); // all but the two context refusals
    expect(observations(text, 'tollgate_upstream_ttfb_seconds')).toBe(14);
    expect(observations(text, 'tollgate_upstream_ttfb_seconds', { replica: 'r2' })).toBe(3);
    expect(observations(text, 'tollgate_ledger_flush_seconds')).toBeGreaterThan(0);
    expect(text).toContain('tollgate_admission_seconds_bucket{le="0.005"}');

    // Replicas and queues, read at scrape time.
    expect(sum(families, 'tollgate_replica_healthy', { replica: 'r0' })).toBe(1);
    expect(sum(families, 'tollgate_replica_healthy', { replica: 'r2' })).toBe(0); // its 500s ejected it
    expect(sum(families, 'tollgate_replica_in_flight')).toBe(0);
    expect(sum(families, 'tollgate_replica_ejections_total', { replica: 'r2' })).toBeGreaterThan(0);
    expect(sum(families, 'tollgate_queue_depth', { model: 'gpt-4' })).toBe(0);
    expect(sum(families, 'tollgate_ledger_queue_depth')).toBe(0);
    expect(sum(families, 'tollgate_fail_open_admissions_total')).toBe(0);
    expect(samples(families, 'tollgate_tokenizer_cache_entries', { cache: 'pieces', encoding: 'cl100k_base' })).toHaveLength(1);
    expect(sum(families, 'tollgate_tokenizer_cache_lookups_total', { cache: 'messages' })).toBeGreaterThan(0);

    // Every HTTP answer, the 401 included (it has no ledger row).
    expect(sum(families, 'tollgate_http_responses_total', { path: '/v1/chat/completions', code: '200' })).toBe(11);
    expect(sum(families, 'tollgate_http_responses_total', { path: '/v1/chat/completions', code: '401' })).toBe(1);
    expect(sum(families, 'tollgate_http_responses_total', { path: '/v1/chat/completions', code: '500' })).toBe(3);

    // No key ids or request ids as labels unless an operator asks for them.
    expect(text).not.toContain(rich.id);
    expect(text).not.toMatch(/req_[0-9a-f]{8}/);
    expect(families.flatMap((f) => f.metrics).some((s) => s.labels && 'key' in s.labels)).toBe(false);
  });

  test('with gateway.metrics.perKey (a reload turns it on) the request counters name the key', async () => {
    const input = JSON.parse(readFileSync(gateway.configPath, 'utf8'));
    input.gateway.metrics = { perKey: true };
    gateway.writeConfig(input);
    expect((await gateway.admin('POST', '/admin/reload')).status).toBe(200);
    expect((await gateway.post(rich.key, '/v1/chat/completions', chat())).status).toBe(200);
    await gateway.flush();
    const { families } = await scrape(gateway);
    expect(sum(families, 'tollgate_requests_total', { model: 'gpt-4', key: rich.id, status: 'ok' })).toBe(1);
    expect(sum(families, 'tollgate_cost_nanodollars_total', { model: 'gpt-4', key: rich.id })).toBeGreaterThan(0);
  });
});
