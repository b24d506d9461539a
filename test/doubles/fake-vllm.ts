// A fake vLLM OpenAI-compatible server on real loopback HTTP, for integration and e2e tests.
// Standalone: `npx tsx test/doubles/fake-vllm.ts --port 8000 [--host 127.0.0.1] [--behavior '{"latencyMs":50}']`
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  countTokens, chatPromptTokens, contextLengthMessage, embeddingInputs, embeddingLengthMessage, fakeEmbedding,
  modelList, newId, promptTokenCounts, unixNow, usage, vllmError,
} from './vllm-protocol';
import { streamGeneration, type Generation } from './vllm-stream';
import { Wire } from './wire';

export interface Behavior {
  /** Tokens generated per choice, capped by max_tokens / max_completion_tokens when sent. */
  completionTokens: number;
  /** Text of one generated token: content is `word` repeated. */
  word: string;
  /** Delay before the response head (errors included). */
  latencyMs: number;
  /** Delay between streamed SSE events. */
  chunkDelayMs: number;
  /** Never report usage: no body `usage`, no include_usage chunk. */
  omitUsage: boolean;
  /** Report these numbers instead of the true ones. */
  usageOverride?: { prompt_tokens?: number; completion_tokens?: number };
  /** Write each SSE event in 2-3 separate TCP writes split mid-line. */
  splitWrites: boolean;
  /** Status: answer that error. disconnect: destroy the socket before the head, or after N SSE events of a stream. hang: never answer. */
  fail?: { status: number; body?: unknown } | { kind: 'disconnect'; afterChunks?: number } | { kind: 'hang' };
  /** prompt + max_tokens above this gets vLLM's 400 context-length error. */
  maxModelLen: number;
  /** A stream waits on this before its last content chunk. */
  gate?: Promise<void>;
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON; the raw text when it was not JSON; undefined when empty. */
  body: any;
  receivedAt: number;
  /** The client went away before the response ended. */
  aborted: boolean;
}

export interface FakeVllm {
  /** Base URL ending in /v1. */
  url: string;
  received: ReceivedRequest[];
  /** Merge into the current behavior; requests already running keep what they started with. */
  behave(patch: Partial<Behavior>): void;
  /** Default behavior, clear `received` and the models seen. */
  reset(): void;
  close(): Promise<void>;
}

export const defaultBehavior: Readonly<Behavior> = {
  completionTokens: 5,
  word: ' tok',
  latencyMs: 0,
  chunkDelayMs: 0,
  omitUsage: false,
  splitWrites: false,
  maxModelLen: 1_000_000,
};

/** Served model name reported by /v1/models before any request names one. */
export const DEFAULT_MODEL = 'fake-model';

interface State {
  behavior: Behavior;
  received: ReceivedRequest[];
  models: Set<string>;
  readonly startedAt: number;
}

interface Exchange {
  wire: Wire;
  body: any;
  behavior: Behavior;
  state: State;
}

const routes: Record<string, { method: string; answer: (ex: Exchange) => Promise<void> | void }> = {
  '/v1/chat/completions': { method: 'POST', answer: chatCompletions },
  '/v1/completions': { method: 'POST', answer: completions },
  '/v1/embeddings': { method: 'POST', answer: embeddings },
  '/v1/models': { method: 'GET', answer: models },
  '/health': { method: 'GET', answer: ({ wire }) => wire.json(200, {}) },
};

/**
 * Start a fake vLLM on loopback (port 0 unless told otherwise).
 * @example
 * const vllm = await startFakeVllm({ completionTokens: 3 });
 * await fetch(`${vllm.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }) });
 * await vllm.close();
 */
export async function startFakeVllm(initial: Partial<Behavior> = {}, listen: { port?: number; host?: string } = {}): Promise<FakeVllm> {
  const state: State = { behavior: { ...defaultBehavior, ...initial }, received: [], models: new Set(), startedAt: unixNow() };
  countTokens(''); // build the encoder now: its first use takes most of a second, which would look like latency
  const server = createServer({ noDelay: true }, (req, res) => {
    answer(req, res, state).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(vllmError(500, String(err))));
      else res.destroy();
    });
  });
  const host = listen.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`,
    received: state.received,
    behave: (patch) => void Object.assign(state.behavior, patch),
    reset: () => {
      state.behavior = { ...defaultBehavior };
      state.received.length = 0; // keep the array identity callers hold
      state.models.clear();
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections(); // hung and keep-alive sockets would hold close() forever
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, state: State): Promise<void> {
  const behavior = { ...state.behavior };
  const path = new URL(req.url ?? '/', 'http://fake').pathname;
  const record: ReceivedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body: undefined, receivedAt: Date.now(), aborted: false };
  state.received.push(record);
  const wire = new Wire(res, () => (record.aborted = true), behavior);

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
  if (behavior.latencyMs > 0) await wire.sleep(behavior.latencyMs);
  if (wire.gone) return;

  const fail = behavior.fail;
  if (fail && 'status' in fail) return wire.json(fail.status, fail.body ?? vllmError(fail.status, `fake-vllm: injected failure (status ${fail.status})`));
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
  await route.answer({ wire, body: record.body, behavior, state });
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

function chatCompletions(ex: Exchange) {
  const { messages } = ex.body;
  if (!Array.isArray(messages) || messages.length === 0) return ex.wire.json(400, vllmError(400, 'messages: a non-empty array is required'));
  const maxTokens = wholeNumber(ex.body.max_completion_tokens) ?? wholeNumber(ex.body.max_tokens);
  return generate(ex, 'chat', [chatPromptTokens(messages)], maxTokens);
}

function completions(ex: Exchange) {
  const counts = promptTokenCounts(ex.body.prompt);
  if (!counts) return ex.wire.json(400, vllmError(400, 'prompt: a string, string[], number[] or number[][] is required'));
  return generate(ex, 'text', counts, wholeNumber(ex.body.max_tokens));
}

function generate({ wire, body, behavior }: Exchange, kind: Generation['kind'], promptCounts: number[], maxTokens: number | undefined) {
  for (const promptTokens of promptCounts) {
    const tooLong = maxTokens === undefined ? promptTokens >= behavior.maxModelLen : promptTokens + maxTokens > behavior.maxModelLen;
    if (tooLong) return wire.json(400, vllmError(400, contextLengthMessage(behavior.maxModelLen, promptTokens, maxTokens)));
  }
  const n = wholeNumber(body.n) || 1;
  const tokensPerChoice = maxTokens === undefined ? behavior.completionTokens : Math.min(maxTokens, behavior.completionTokens);
  const gen: Generation = {
    kind,
    id: newId(kind === 'chat' ? 'chatcmpl' : 'cmpl'),
    created: unixNow(),
    model: typeof body.model === 'string' ? body.model : DEFAULT_MODEL,
    choiceCount: promptCounts.length * n, // vLLM: n choices per prompt, indexed prompt-major
    tokensPerChoice,
    finishReason: maxTokens !== undefined && behavior.completionTokens >= maxTokens ? 'length' : 'stop',
    usage: behavior.omitUsage ? undefined : usage(sum(promptCounts), tokensPerChoice * promptCounts.length * n, behavior.usageOverride),
  };
  if (body.stream === true) return streamGeneration(wire, gen, behavior, body.stream_options?.include_usage === true);

  const content = behavior.word.repeat(tokensPerChoice);
  const choices = Array.from({ length: gen.choiceCount }, (_, index) =>
    kind === 'chat'
      ? { index, message: { role: 'assistant', content }, logprobs: null, finish_reason: gen.finishReason }
      : { index, text: content, logprobs: null, finish_reason: gen.finishReason },
  );
  const object = kind === 'chat' ? 'chat.completion' : 'text_completion';
  return wire.json(200, {
    id: gen.id, object, created: gen.created, model: gen.model, choices,
    ...(gen.usage && { usage: { ...gen.usage, prompt_tokens_details: null } }),
  });
}

function models({ wire, state, behavior }: Exchange) {
  const names = state.models.size > 0 ? state.models : [DEFAULT_MODEL];
  return wire.json(200, modelList(names, behavior.maxModelLen, state.startedAt));
}

function embeddings({ wire, body, behavior }: Exchange) {
  const inputs = embeddingInputs(body.input);
  if (!inputs) return wire.json(400, vllmError(400, 'input: a string, string[], number[] or number[][] is required'));
  const tooLong = inputs.find((input) => input.tokens > behavior.maxModelLen);
  if (tooLong) return wire.json(400, vllmError(400, embeddingLengthMessage(behavior.maxModelLen, tooLong.tokens)));
  const promptTokens = behavior.usageOverride?.prompt_tokens ?? sum(inputs.map((input) => input.tokens));
  return wire.json(200, {
    id: newId('embd'),
    object: 'list',
    created: unixNow(),
    model: typeof body.model === 'string' ? body.model : DEFAULT_MODEL,
    data: inputs.map((input, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(input.key) })),
    ...(!behavior.omitUsage && { usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } }),
  });
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const wholeNumber = (value: unknown) => (Number.isInteger(value) && (value as number) >= 0 ? (value as number) : undefined);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

async function main() {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8000' }, host: { type: 'string', default: '127.0.0.1' }, behavior: { type: 'string', default: '{}' } } });
  const fake = await startFakeVllm(JSON.parse(values.behavior) as Partial<Behavior>, { port: Number(values.port), host: values.host });
  console.log(fake.url);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
