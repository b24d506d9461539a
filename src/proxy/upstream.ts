import { Canceller, type CancelSignal, toAbortSignal } from '../cancel';
import { GatewayError } from '../errors';

/** A backend's answer as the relay reads it: status, then the body once, as text or as a stream. */
export interface UpstreamReply {
  readonly status: number;
  header(name: string): string | null;
  text(): Promise<string>;
  /** The body as it arrives (SSE), read once; null when there is none. */
  reader(): ByteReader | null;
}

/**
 * Reads a body chunk by chunk: a web stream's reader fits it, and so does a node:http answer
 * read directly (runtime/node-upstream.ts), which costs less than turning it into a web stream.
 */
export interface ByteReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /** Stops reading and lets the connection go. */
  cancel(): Promise<unknown>;
}

/**
 * How the gateway talks to backends: one POST, answered with a reply. Workers use the platform's
 * fetch (fetchUpstream); Node installs a node:http client with keep-alive pools (runtime/).
 */
export interface UpstreamClient {
  post(url: string, init: { headers: Record<string, string>; body: string; signal: CancelSignal }): Promise<UpstreamReply>;
}

/** The standard client over `fetch`. */
export function fetchUpstream(fetchFn: typeof fetch = (input, init) => fetch(input, init)): UpstreamClient {
  return {
    async post(url, init) {
      const response = await fetchFn(url, { method: 'POST', headers: init.headers, body: init.body, signal: toAbortSignal(init.signal) });
      return {
        status: response.status,
        header: (name) => response.headers.get(name),
        text: () => response.text(),
        reader: () => response.body?.getReader() ?? null,
      };
    },
  };
}

/** One attempt: a POST to one backend server. */
export interface UpstreamCall {
  /** The backend's base URL (ending in `/v1`, no trailing slash). */
  url: string;
  apiKey?: string | undefined;
  /** This attempt's deadline, body included. */
  timeoutMs: number;
  /** The backend's name, for error messages. */
  backendName: string;
  /** Path below the backend's `/v1` base, e.g. `/chat/completions`. */
  path: string;
  /** The JSON body, serialized once for every attempt. */
  body: string;
  requestId: string;
  /** W3C trace context passed on to the backend (null: none). */
  traceparent: string | null;
  tracestate: string | null;
  /** Aborted when the client goes away; null: the exchange runs to its end whatever the client does. */
  clientSignal: CancelSignal | null;
  client: UpstreamClient;
}

export interface UpstreamExchange {
  reply: UpstreamReply;
  /** Aborts the upstream request (client gone, or the gateway gives up). */
  abort: () => void;
  /** True once the backend's deadline passed. */
  timedOut: () => boolean;
  /** Stops the deadline and the client-abort link; called once the body is read or abandoned. */
  release: () => void;
}

/**
 * Sends one request to one backend. Connection failures become 502 and the deadline 504, as
 * OpenAI-shaped errors; a non-2xx answer is returned as is, for the caller to pass through.
 */
export async function callUpstream(call: UpstreamCall): Promise<UpstreamExchange> {
  const controller = new Canceller();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('upstream timeout'));
  }, call.timeoutMs);
  const onClientAbort = () => controller.abort(new Error('client disconnected'));
  const signal = call.clientSignal;
  if (signal?.aborted) onClientAbort();
  else signal?.addEventListener('abort', onClientAbort, { once: true });
  const release = () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onClientAbort);
  };

  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': call.requestId };
  if (call.apiKey) headers.authorization = `Bearer ${call.apiKey}`;
  if (call.traceparent) headers.traceparent = call.traceparent;
  if (call.tracestate) headers.tracestate = call.tracestate;
  let reply: UpstreamReply;
  try {
    reply = await call.client.post(`${call.url}${call.path}`, { headers, body: call.body, signal: controller });
  } catch {
    release();
    if (timedOut)
      throw new GatewayError(504, `Backend "${call.backendName}" did not answer within ${call.timeoutMs} ms`, {
        code: 'upstream_timeout',
      });
    if (signal?.aborted) throw new ClientGoneError(true);
    throw new GatewayError(502, `Backend "${call.backendName}" is unreachable`, { code: 'upstream_unreachable' });
  }
  // The deadline covers the whole exchange, body included: the relay releases it when done.
  return { reply, abort: () => controller.abort(new Error('aborted by gateway')), timedOut: () => timedOut, release };
}

/**
 * The client went away before the backend answered: nothing to send back. `reachedBackend` when the
 * request had been handed to a replica, which may have read the prompt by then (and billed so);
 * false when it left while waiting for one.
 */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
  constructor(readonly reachedBackend: boolean) {
    super('the client went away before the backend answered');
  }
}
