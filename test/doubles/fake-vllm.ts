// A fake vLLM OpenAI-compatible server on real loopback HTTP, for integration and e2e tests.
// Standalone: `npx tsx test/doubles/fake-vllm.ts --port 8000 [--host 127.0.0.1] [--behavior '{"latencyMs":50}']`
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Behavior, defaultBehavior, type ReceivedRequest } from './behavior';
import { countTokens, unixNow, vllmError } from './vllm-protocol';
import { routes } from './vllm-routes';
import { Wire } from './wire';

export { type Behavior, defaultBehavior, type ReceivedRequest, type ScriptedToolCall } from './behavior';
export { DEFAULT_MODEL } from './vllm-routes';

export interface FakeVllm {
  /** Base URL ending in /v1. */
  url: string;
  received: ReceivedRequest[];
  /** POST requests being answered right now (a replica's outstanding requests). */
  readonly inFlight: number;
  /** Merge into the current behavior; requests already running keep what they started with. */
  behave(patch: Partial<Behavior>): void;
  /** Default behavior, clear `received` and the models seen. */
  reset(): void;
  /** Resolves once no POST request is in flight. */
  whenIdle(): Promise<void>;
  /** Die as a crashed replica does: open connections cut, new ones refused, until start(). */
  stop(): Promise<void>;
  /** Listen again on the same port after stop(). */
  start(): Promise<void>;
  close(): Promise<void>;
}

interface State {
  behavior: Behavior;
  received: ReceivedRequest[];
  models: Set<string>;
  readonly startedAt: number;
  /** Exchanges still open, to cut when the replica stops. */
  wires: Set<Wire>;
  inFlight: number;
  idle: (() => void)[];
}

/**
 * Start a fake vLLM on loopback (port 0 unless told otherwise).
 * @example
 * const vllm = await startFakeVllm({ completionTokens: 3, tokenMs: 10 });
 * await fetch(`${vllm.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }) });
 * await vllm.stop(); // connections refused, as a dead replica
 * await vllm.start();
 * await vllm.close();
 */
export async function startFakeVllm(initial: Partial<Behavior> = {}, listen: { port?: number; host?: string } = {}): Promise<FakeVllm> {
  const state: State = {
    behavior: { ...defaultBehavior, ...initial },
    received: [],
    models: new Set(),
    startedAt: unixNow(),
    wires: new Set(),
    inFlight: 0,
    idle: [],
  };
  countTokens(''); // build the encoder now: its first use takes most of a second, which would look like latency
  const server = createServer({ noDelay: true }, (req, res) => {
    answer(req, res, state).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(vllmError(500, String(err))));
      else res.destroy();
    });
  });
  const host = listen.host ?? '127.0.0.1';
  await listenOn(server, listen.port ?? 0, host);
  const { port } = server.address() as AddressInfo; // kept: start() comes back on the same port
  let listening = true;
  const shutDown = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const wire of state.wires) wire.destroy(); // not client aborts: the server went away
    server.closeAllConnections(); // hung and keep-alive sockets would hold close() forever
    await closed;
  };
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`,
    received: state.received,
    get inFlight() {
      return state.inFlight;
    },
    behave: (patch) => void Object.assign(state.behavior, patch),
    reset: () => {
      state.behavior = { ...defaultBehavior };
      state.received.length = 0; // keep the array identity callers hold
      state.models.clear();
    },
    whenIdle: () => (state.inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => state.idle.push(resolve))),
    stop: shutDown,
    start: async () => {
      if (listening) return;
      await listenOn(server, port, host);
      listening = true;
    },
    close: shutDown,
  };
}

function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function answer(req: IncomingMessage, res: ServerResponse, state: State): Promise<unknown> {
  const behavior = { ...state.behavior };
  const path = new URL(req.url ?? '/', 'http://fake').pathname;
  const record: ReceivedRequest = {
    method: req.method ?? 'GET',
    path,
    headers: req.headers,
    body: undefined,
    receivedAt: Date.now(),
    aborted: false,
    completed: false,
    generatedTokens: 0,
    sentTokens: 0,
  };
  state.received.push(record);
  const wire = new Wire(res, () => (record.aborted = true), behavior);
  res.once('finish', () => (record.completed = true));
  state.wires.add(wire);
  void wire.closed.then(() => state.wires.delete(wire));
  // counted from arrival, so a burst sees the requests ahead of it
  const overloaded = record.method === 'POST' && !admit(state, behavior, wire);

  const raw = await readBody(req);
  let invalidJson: string | undefined;
  if (raw.length > 0) {
    try {
      record.body = JSON.parse(raw);
    } catch (err) {
      record.body = raw;
      invalidJson = (err as Error).message;
    }
  }
  if (path === '/health' && behavior.health !== 'follow') {
    // an empty 503 is what vLLM's /health answers once its engine is dead
    if (behavior.health === 'fail') return res.writeHead(503, { 'content-length': '0' }).end();
    return wire.json(200, {});
  }
  if (overloaded) return wire.json(503, vllmError(503, `fake-vllm: more than ${behavior.maxConcurrent} requests in flight`));
  if (behavior.latencyMs > 0) await wire.sleep(behavior.latencyMs);
  if (wire.gone) return;

  const fail = behavior.fail;
  if (fail && 'status' in fail) {
    const headers: Record<string, string> = fail.retryAfter === undefined ? {} : { 'retry-after': String(fail.retryAfter) };
    return wire.json(fail.status, fail.body ?? vllmError(fail.status, `fake-vllm: injected failure (status ${fail.status})`), headers);
  }
  if (fail?.kind === 'hang') return;
  if (fail?.kind === 'disconnect') {
    if (fail.afterChunks === undefined) return wire.destroy();
    wire.cutAfter = fail.afterChunks; // a JSON answer is cut halfway through its body
  }

  const route = routes[path];
  if (!route) return wire.json(404, { detail: 'Not Found' }); // FastAPI's own 404, as vLLM returns it
  if (route.method !== record.method) return wire.json(405, { detail: 'Method Not Allowed' });
  if (invalidJson !== undefined) return wire.json(400, vllmError(400, `Invalid JSON in request body: ${invalidJson}`));
  if (route.method === 'POST' && !isObject(record.body)) return wire.json(400, vllmError(400, 'Request body must be a JSON object'));
  if (typeof record.body?.model === 'string') state.models.add(record.body.model);
  return route.answer({ wire, body: record.body, behavior, record, models: state.models, startedAt: state.startedAt });
}

/** Count a POST in flight until its connection's exchange closes; false when maxConcurrent is reached. */
function admit(state: State, behavior: Behavior, wire: Wire): boolean {
  if (behavior.maxConcurrent !== undefined && state.inFlight >= behavior.maxConcurrent) return false;
  state.inFlight++;
  void wire.closed.then(() => {
    if (--state.inFlight > 0) return;
    for (const resolve of state.idle.splice(0)) resolve();
  });
  return true;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer);
  } catch {
    // client went away mid-body; the Wire's close handler records it
  }
  return Buffer.concat(chunks).toString('utf8');
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8000' },
      host: { type: 'string', default: '127.0.0.1' },
      behavior: { type: 'string', default: '{}' },
    },
  });
  const fake = await startFakeVllm(JSON.parse(values.behavior) as Partial<Behavior>, { port: Number(values.port), host: values.host });
  console.log(fake.url);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
