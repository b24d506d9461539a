import type { BackendConfig } from '../config';
import { GatewayError } from '../errors';

export interface UpstreamCall {
  backend: BackendConfig;
  backendName: string;
  /** Path below the backend's `/v1` base, e.g. `/chat/completions`. */
  path: string;
  body: unknown;
  requestId: string;
  /** Aborted when the client goes away. */
  clientSignal: AbortSignal;
  fetch: typeof fetch;
}

export interface UpstreamResponse {
  response: Response;
  /** Aborts the upstream request (client gone, or the gateway gives up). */
  abort: () => void;
  /** True once the backend's deadline passed. */
  timedOut: () => boolean;
  /** Stops the deadline and the client-abort link; called once the body is read or abandoned. */
  release: () => void;
}

/**
 * Sends one request to the backend. Connection failures become 502 and the deadline 504, as
 * OpenAI-shaped errors; a non-2xx answer is returned as is, for the caller to pass through.
 */
export async function callUpstream(call: UpstreamCall): Promise<UpstreamResponse> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('upstream timeout'));
  }, call.backend.timeoutMs);
  const onClientAbort = () => controller.abort(new Error('client disconnected'));
  if (call.clientSignal.aborted) onClientAbort();
  else call.clientSignal.addEventListener('abort', onClientAbort, { once: true });
  const release = () => {
    clearTimeout(timer);
    call.clientSignal.removeEventListener('abort', onClientAbort);
  };

  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': call.requestId };
  if (call.backend.apiKey) headers.authorization = `Bearer ${call.backend.apiKey}`;
  let response: Response;
  try {
    response = await call.fetch(`${call.backend.url.replace(/\/+$/, '')}${call.path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(call.body),
      signal: controller.signal,
    });
  } catch (error) {
    release();
    if (timedOut) {
      throw new GatewayError(504, `Backend "${call.backendName}" did not answer within ${call.backend.timeoutMs} ms`, { code: 'upstream_timeout' });
    }
    if (call.clientSignal.aborted) throw new ClientGoneError();
    throw new GatewayError(502, `Backend "${call.backendName}" is unreachable`, { code: 'upstream_unreachable' });
  }
  // The deadline covers the whole exchange, body included: the relay releases it when done.
  return {
    response,
    abort: () => controller.abort(new Error('aborted by gateway')),
    timedOut: () => timedOut,
    release,
  };
}

/** The client went away before the backend answered: nothing to send back. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}
