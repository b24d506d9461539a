import { mkdtempSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { defaultConfigInput } from '../../src/config';
import { openStore, type Store } from '../../src/store';
import { createPostgresDatabase } from '../integration/support/databases';
import { PostgresOutage } from '../integration/support/outage';
import { ADMIN_TOKEN, type GatewayProcess } from './gateway';

/**
 * Polls `probe` until it answers something other than undefined/false, for at most `capMs`
 * (generous: this waits for an event, it does not time one, unless the cap is the claim).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  capMs = 60_000,
): Promise<T> {
  const until = Date.now() + capMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) throw new Error(`waited ${capMs} ms for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The status of a gateway's /healthz over a new connection, closed after: whether the process
 * answers, told apart from what became of the connections a pool kept from earlier requests. A
 * connection reset is tried once more on another new connection (seen once in CI right after the
 * database relay reset its sockets, not reproduced since); a process that does not answer still fails.
 */
export async function healthz(gatewayUrl: string): Promise<number> {
  try {
    return await healthzOnce(gatewayUrl);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
    await new Promise((resolve) => setTimeout(resolve, 50));
    return healthzOnce(gatewayUrl);
  }
}

function healthzOnce(gatewayUrl: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`${gatewayUrl}/healthz`, { agent: false }, (response) => {
      response.resume().on('end', () => resolve(response.statusCode!));
    }).on('error', reject);
  });
}

/** A Postgres database of its own with a TCP relay in front (up), and a direct store on it for checks. */
export async function relayedDatabase(): Promise<{
  url: string;
  relayUrl: string;
  relay: PostgresOutage;
  store: Store;
  drop(): Promise<void>;
}> {
  const database = await createPostgresDatabase();
  const store = await openStore({ databaseUrl: database.url });
  const relay = await PostgresOutage.prepare(database.url);
  await relay.up();
  return {
    url: database.url,
    relayUrl: relay.urlFor(database.url),
    relay,
    store,
    async drop() {
      relay.resume();
      await relay.down();
      await store.close();
      await database.drop();
    },
  };
}

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `tollgate-${prefix}-`));

/** The seed config on a fake backend, with a long backend timeout and optional changes. */
export function processConfig(backendUrl: string, patch: (input: any) => void = () => {}): unknown {
  const input = defaultConfigInput(backendUrl) as any;
  patch(input);
  return input;
}

/** The operator API of a gateway process. */
export function adminOf(gateway: Pick<GatewayProcess, 'url'>) {
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    call,
    async createKey(name: string, options: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
      const response = await call('POST', '/admin/keys', { name, options });
      if (response.status !== 201) throw new Error(`creating a key failed: ${response.status} ${await response.text()}`);
      return (await response.json()) as { id: string; key: string };
    },
    async setBudget(keyId: string, limit: string): Promise<void> {
      const response = await call('PUT', `/admin/keys/${keyId}/budget`, { limit, period: 'month' });
      if (response.status !== 200) throw new Error(`setting a budget failed: ${response.status} ${await response.text()}`);
    },
  };
}

export interface ChatOptions {
  requestId?: string;
  stream?: boolean;
  maxTokens?: number;
  content?: string;
}

/** One chat completion through a gateway; the body is read whole (a stream to its end). */
export async function chat(
  gatewayUrl: string,
  key: string,
  options: ChatOptions = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(`${gatewayUrl}/v1/chat/completions`, chatInit(key, options));
  return { status: response.status, headers: response.headers, text: await response.text() };
}

export function chatInit(key: string, options: ChatOptions = {}): RequestInit {
  return {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      ...(options.requestId ? { 'x-request-id': options.requestId } : {}),
    },
    body: JSON.stringify({
      model: 'gpt-4',
      messages: [{ role: 'user', content: options.content ?? 'hello' }],
      max_tokens: options.maxTokens ?? 20,
      stream: options.stream ?? false,
    }),
  };
}

export interface LedgerRow {
  requestId: string;
  status: string;
  billedCost: bigint;
  promptTokens: number;
  completionTokens: number;
  admittedFailOpen: boolean;
  overLimit: boolean;
  errorCode: string | null;
}

/** Every ledger row of a key (straight from usage_events), by request id. */
export async function ledgerRows(store: Store, keyId: string): Promise<Map<string, LedgerRow[]>> {
  const rows = await store.rows<{
    request_id: string;
    status: string;
    billed_cost: string;
    prompt_tokens: string;
    completion_tokens: string;
    admitted_fail_open: boolean;
    over_limit: boolean;
    error_code: string | null;
  }>(sql`
    SELECT request_id, status, billed_cost::text, prompt_tokens::text, completion_tokens::text, admitted_fail_open, over_limit, error_code
    FROM usage_events WHERE key_id = ${keyId}`);
  const byId = new Map<string, LedgerRow[]>();
  for (const row of rows) {
    const list = byId.get(row.request_id) ?? [];
    list.push({
      requestId: row.request_id,
      status: row.status,
      billedCost: BigInt(row.billed_cost),
      promptTokens: Number(row.prompt_tokens),
      completionTokens: Number(row.completion_tokens),
      admittedFailOpen: row.admitted_fail_open,
      overLimit: row.over_limit,
      errorCode: row.error_code,
    });
    byId.set(row.request_id, list);
  }
  return byId;
}

/** A key's budget window totals now (all windows summed). */
export async function windowOf(store: Store, keyId: string): Promise<{ spent: bigint; reserved: bigint }> {
  const [row] = await store.rows<{ spent: string; reserved: string }>(sql`
    SELECT coalesce(sum(spent_cost), 0)::text AS spent, coalesce(sum(reserved_cost), 0)::text AS reserved
    FROM budget_windows WHERE key_id = ${keyId}`);
  return { spent: BigInt(row!.spent), reserved: BigInt(row!.reserved) };
}

/** Pending rows left anywhere in the ledger. */
export async function pendingCount(store: Store): Promise<number> {
  const [row] = await store.rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM usage_events WHERE status = 'pending'`);
  return row!.n;
}

/** A webhook receiver that accepts every post and keeps its body. */
export async function startWebhook(): Promise<{ url: string; posts: any[]; close(): Promise<void> }> {
  const posts: any[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      posts.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    posts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
