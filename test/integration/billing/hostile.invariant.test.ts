import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatUsd, parseUsd } from '../../../src/pricing';
import { defaultBehavior, type FakeVllm, startFakeVllm } from '../../doubles/fake-vllm';
import { startTestGateway, type TestGateway, testConfig } from '../../support/gateway';
import { databases } from '../support/databases';
import { ledgerSums } from '../support/ledger';
import { BACKEND_PHASES, type HostileRequest, hostileRequest, seededRandom } from './hostile-requests';
import { budgetOf, setBudget } from './ledger-view';
import { answerTokens, readStream, receivedTokens } from './stream-client';

// Issue 9's promise, under every trick at once: a key with a small budget is sent 325 hostile
// requests (batches, token-id batches, n/best_of, continuous usage with n > 1, hidden prompt
// text, documents, refused fields, uncountable parts, too-deep bodies, streams and not, clients
// leaving mid-stream and before the head), 25 at a time, while the fake backend switches between
// honest, lying (0/0, 5,000, 3e9, strings), reasoning, tool calls, slow, broken and too slow.
// The budget is never overspent (sampled while it runs), every request has one final row billed
// at least what its client received, and the rows add up to the window's spend to the unit.

const SEED = 9;
const PER_PHASE = 25;
// The traffic's bills come to about $8 when nothing stops it: the budget runs out in the last phases.
const LIMIT = parseUsd('7.00');

interface Sent {
  request: HostileRequest;
  requestId: string;
  status: number | null;
  code: string | null;
  /** Completion tokens the client received, by its own count. */
  received: number;
  left: boolean;
}

interface Row extends Record<string, unknown> {
  request_id: string;
  status: string;
  error_code: string | null;
  prompt_tokens: string;
  completion_tokens: string;
  prompt_tokens_estimated: string | null;
  max_completion_tokens: string | null;
  reserved_cost: string;
  billed_cost: string;
  over_reservation: boolean;
}

describe.each(databases)('the billing invariant under hostile traffic, on $name', (database) => {
  let backend: FakeVllm;
  let gateway: TestGateway;

  beforeAll(async () => {
    backend = await startFakeVllm();
    const config = testConfig(backend.url, (input) => (input.backends['gpu-a'].timeoutMs = 2_500));
    gateway = await startTestGateway({ store: await database.open(), config });
  });
  afterAll(async () => {
    await gateway?.stop();
    await gateway?.store.close();
    await backend?.close();
  });

  async function send(key: string, request: HostileRequest, requestId: string): Promise<Sent> {
    const sent: Sent = { request, requestId, status: null, code: null, received: 0, left: false };
    const controller = new AbortController();
    const answer = fetch(`${gateway.url}${request.path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': requestId, ...request.headers },
      body: typeof request.body === 'string' ? request.body : JSON.stringify(request.body),
      signal: controller.signal,
    });
    if (request.leaveAfter === 0) {
      // Leave once the backend is working on it, if that comes before the answer's head.
      let answered = false;
      void answer.then(
        () => (answered = true),
        () => (answered = true),
      );
      while (!answered && !backend.received.some((r) => r.headers['x-request-id'] === requestId))
        await new Promise((r) => setTimeout(r, 2));
      if (!answered) {
        controller.abort();
        await answer.catch(() => {});
        sent.left = true;
        return sent;
      }
    }
    const response = await answer;
    sent.status = response.status;
    if (response.status !== 200) {
      sent.code = ((await response.json()) as { error: { code: string } }).error.code;
      return sent;
    }
    if (!request.stream) {
      sent.received = answerTokens((await response.json()) as Record<string, unknown>);
      return sent;
    }
    const leaveAfter = request.leaveAfter;
    const read = await readStream(response, {
      controller,
      leaveWhen: leaveAfter === null ? undefined : (r) => receivedTokens(r) >= leaveAfter,
    });
    sent.received = receivedTokens(read);
    sent.left = read.left;
    return sent;
  }

  test(`${PER_PHASE * BACKEND_PHASES.length} hostile requests on a $7 key: never overspent, every request billed once and at least what it delivered`, async () => {
    const { id, key } = await gateway.createKey({ name: 'hostile' });
    await setBudget(gateway.admin, id, formatUsd(LIMIT));
    const random = seededRandom(SEED);

    // Sampled while the traffic runs: spent + reserved never passes the limit.
    let running = true;
    let samples = 0;
    const sampler = (async () => {
      while (running) {
        const budget = await budgetOf(gateway.admin, id);
        expect(parseUsd(budget.spent) + parseUsd(budget.reserved), `sample ${samples}`).toBeLessThanOrEqual(LIMIT);
        samples++;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    const sent: Sent[] = [];
    for (const [p, [, behavior]] of BACKEND_PHASES.entries()) {
      // Every field set, so nothing of the previous phase lingers.
      backend.behave({
        ...defaultBehavior,
        completionTokens: 25,
        chunkDelayMs: 1,
        usageOverride: undefined,
        toolCalls: undefined,
        fail: undefined,
        ...behavior,
      });
      const phase = Array.from({ length: PER_PHASE }, (_, j) => hostileRequest(random, p * PER_PHASE + j));
      sent.push(...(await Promise.all(phase.map((request, j) => send(key, request, `hostile-${p}-${j}`)))));
    }
    running = false;
    await sampler;
    expect(samples).toBeGreaterThan(10);

    // Every admitted request's row is final once the ledger flushed (a client that left is noticed a moment later).
    const rowsOf = () =>
      gateway.store.rows<Row>(sql`
        SELECT request_id, status, error_code, prompt_tokens::text, completion_tokens::text, prompt_tokens_estimated::text,
          max_completion_tokens::text, reserved_cost::text, billed_cost::text, over_reservation
        FROM usage_events WHERE key_id = ${id}`);
    let rows = await rowsOf();
    for (let tries = 0; tries < 400 && (rows.length === 0 || rows.some((row) => row.status === 'pending')); tries++) {
      await gateway.ledger.flush(10_000);
      await new Promise((r) => setTimeout(r, 25));
      rows = await rowsOf();
    }
    expect(rows.filter((row) => row.status === 'pending')).toEqual([]);
    const byId = new Map(rows.map((row) => [row.request_id, row]));
    expect(byId.size).toBe(rows.length);

    const outcomes = new Map<string, number>();
    for (const request of sent) {
      const { kind, refusedWith, rejectedWith } = request.request;
      const outcome = request.left ? 'left' : `${request.status} ${request.code ?? ''}`.trim();
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      const row = byId.get(request.requestId);
      const where = `${request.requestId} (${kind}): ${outcome}`;
      expect(request.status, where).not.toBe(500);
      if (refusedWith) {
        expect(request.code, where).toBe(refusedWith);
        expect(row, where).toBeUndefined();
        continue;
      }
      expect(row, where).toBeDefined();
      if (rejectedWith || request.code === 'insufficient_quota') {
        expect(request.code, where).toBe(rejectedWith ?? 'insufficient_quota');
        expect(row, where).toMatchObject({ status: 'rejected', billed_cost: '0' });
        continue;
      }
      expect([null, 200, 502, 504], where).toContain(request.status);
      // Billed at least what the client received, never more than the caps the reservation covered.
      expect(Number(row!.completion_tokens), where).toBeGreaterThanOrEqual(request.received);
      expect(Number(row!.completion_tokens), where).toBeLessThanOrEqual(Number(row!.max_completion_tokens));
      expect(Number(row!.prompt_tokens), where).toBeLessThanOrEqual(Number(row!.prompt_tokens_estimated));
      expect(parseUsd(row!.billed_cost), where).toBeLessThanOrEqual(parseUsd(row!.reserved_cost));
      expect(row!.over_reservation, where).toBe(false);
      // Nor more than the backend generated for it.
      const upstream = backend.received.find((r) => r.headers['x-request-id'] === request.requestId);
      expect(Number(row!.completion_tokens), where).toBeLessThanOrEqual(upstream?.generatedTokens ?? 0);
    }
    // The mix really was hostile: refusals of each kind, quota refusals, clients leaving, answers.
    for (const outcome of ['200', '429 insufficient_quota', '400 unsupported_parameter', '400 uncountable_input', 'left']) {
      expect(outcomes.get(outcome) ?? 0, `${outcome} in ${JSON.stringify([...outcomes])}`).toBeGreaterThan(0);
    }

    // The window holds exactly the rows: spent is their sum to the unit, nothing is left reserved, within the limit.
    const budget = await budgetOf(gateway.admin, id);
    const sums = await ledgerSums(gateway.store, id);
    expect(budget.reserved).toBe('0');
    expect(parseUsd(budget.spent)).toBe(sums.events.cost);
    expect(sums.daily.cost).toBe(sums.events.cost);
    expect(parseUsd(budget.spent)).toBeLessThanOrEqual(LIMIT);
    expect(sums.events.cost).toBe(rows.reduce((sum, row) => sum + BigInt(row.billed_cost), 0n));
  }, 180_000);
});
