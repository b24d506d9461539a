import type { CancelSignal } from '../cancel';
import type { Charge, FinalStatus, Meter } from '../ledger';
import { formatUsd } from '../pricing';
import type { Plan } from './plan';
import type { ProxyRequest } from './request';
import { isRecord } from './shape';
import { SseSplitter } from './sse';
import type { UpstreamExchange } from './upstream';
import { GeneratedText, type ReportedUsage, readUsage } from './usage';

/** One admitted request on its way through the backend. The relay reports what happened to the meter, which bills it. */
export interface Exchange {
  meter: Meter;
  request: ProxyRequest;
  plan: Plan;
  /** Response headers decided before the backend answered. */
  headers: Record<string, string>;
  /** performance.now() at arrival, for time to first token. */
  startedAt: number;
}

/**
 * What the gateway answers a proxied request with, before it is written: the runtime's RequestIO
 * writes it (a web Response, or straight onto node:http's response on Node).
 */
export type Reply =
  | { status: number; headers: Record<string, string>; body: string }
  | { status: number; headers: Record<string, string>; stream: TextStream };

/** An SSE answer as text pieces, each sent as soon as it is ready. */
export interface TextStream {
  /** The next piece to send; null once the stream is over. Never rejects for a backend or client fault. */
  next(): Promise<string | null>;
  /** The client left before the end: stops the backend's stream and bills what was relayed. */
  cancel(): Promise<void>;
}

/** The usage object a client sees: what it is billed, with the cost as a decimal USD string. */
function usageView(charge: Charge, endpoint: ProxyRequest['endpoint'], reported: unknown) {
  return {
    ...(isRecord(reported) ? reported : {}),
    prompt_tokens: charge.promptTokens,
    ...(endpoint === 'embeddings' ? {} : { completion_tokens: charge.completionTokens }),
    total_tokens: charge.promptTokens + charge.completionTokens,
    cost: formatUsd(charge.cost),
  };
}

/**
 * A non-2xx answer from the backend keeps its status and message. Bodies already in OpenAI's
 * shape pass untouched; vLLM's older flat shape and plain text are wrapped in it, so SDKs can
 * read them. The backend refused the request: nothing is billed.
 */
export async function relayUpstreamError(exchange: Exchange, upstream: UpstreamExchange): Promise<Reply> {
  const status = upstream.reply.status;
  const text = await upstream.reply.text().catch(() => '');
  upstream.release();
  await exchange.meter.finish({
    status: 'upstream_error',
    reported: null,
    relayed: [],
    promptRead: false,
    errorCode: `upstream_${status}`,
  });
  const headers: Record<string, string> = { ...exchange.headers, 'content-type': 'application/json' };
  // A backend that is busy says when to come back (a 429 or 503 no other replica could take).
  const retryAfter = upstream.reply.header('retry-after');
  if (retryAfter) headers['retry-after'] = retryAfter;
  return { status, headers, body: openAiErrorBody(status, text) };
}

export function openAiErrorBody(status: number, text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (isRecord(parsed) && isRecord(parsed.error) && typeof parsed.error.message === 'string') return text;
  const message =
    isRecord(parsed) && typeof parsed.message === 'string' ? parsed.message : text.slice(0, 2000) || `The backend answered ${status}`;
  const code = /maximum context length/i.test(message) ? 'context_length_exceeded' : `upstream_${status}`;
  const type = status >= 500 ? 'server_error' : 'invalid_request_error';
  return JSON.stringify({ error: { message, type, param: null, code } });
}

/**
 * Non-streamed: the whole answer is read, billed from its usage (bounded by what it contains and
 * the caps), and returned with the billed usage and cost. The exchange runs to its end even when
 * the client left before the answer (a backend sends the head only when generation ends): the
 * work was done, so it is billed, as `client_disconnected`.
 */
export async function relayJson(exchange: Exchange, upstream: UpstreamExchange, clientSignal: CancelSignal): Promise<Reply> {
  let payload: unknown;
  let failed = false;
  try {
    payload = JSON.parse(await upstream.reply.text());
  } catch {
    failed = true;
  } finally {
    upstream.release();
  }
  if (failed || !isRecord(payload)) {
    // The backend began to answer, so it read the prompt; the answer itself is lost.
    const timeout = upstream.timedOut();
    const errorCode = timeout ? 'upstream_timeout' : 'upstream_bad_response';
    await exchange.meter.finish({
      status: timeout ? 'timeout' : 'upstream_error',
      reported: null,
      relayed: [],
      promptRead: true,
      errorCode,
    });
    return errorResponse(
      exchange,
      timeout ? 504 : 502,
      timeout ? 'The backend did not finish in time' : 'The backend sent a response that is not JSON',
      errorCode,
    );
  }
  const generated = new GeneratedText();
  generated.add(payload);
  const gone = clientSignal.aborted;
  const charge = (await exchange.meter.finish({
    status: gone ? 'client_disconnected' : 'ok',
    reported: readUsage(payload.usage),
    relayed: generated.texts(),
    promptRead: true,
    errorCode: gone ? 'client_disconnected' : null,
  }))!;
  payload.usage = usageView(charge, exchange.request.endpoint, payload.usage);
  return {
    status: upstream.reply.status,
    headers: { ...exchange.headers, 'content-type': 'application/json', 'x-tollgate-cost': formatUsd(charge.cost) },
    body: JSON.stringify(payload),
  };
}

/**
 * Streamed: each complete SSE event is relayed as soon as it arrives. Only the final usage chunk
 * (empty `choices`) is the backend's usage; per-chunk running usage (`continuous_usage_stats`)
 * is relayed but never billed from. The usage chunk the gateway asked for is dropped unless the
 * client asked for it too, in which case it carries what is billed and the cost.
 */
export function relayStream(exchange: Exchange, upstream: UpstreamExchange, clientSignal: CancelSignal): Reply {
  const splitter = new SseSplitter();
  const generated = new GeneratedText();
  const source = upstream.reply.reader()!;
  let reported: ReportedUsage | null = null;
  let ttftMs: number | null = null;
  let finished = false;
  let ended = false;

  const finish = async (status: FinalStatus, errorCode: string | null) => {
    if (finished) return;
    finished = true;
    upstream.release();
    await exchange.meter.finish({ status, reported, relayed: generated.texts(), promptRead: true, ttftMs, errorCode });
  };
  const onClientGone = () => {
    upstream.abort();
    void finish('client_disconnected', 'client_disconnected');
  };
  clientSignal.addEventListener('abort', onClientGone, { once: true });

  const stream: TextStream = {
    async next() {
      // Reads until there is something to send: a read may hold only part of an event.
      while (!ended) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await source.read();
        } catch {
          ended = true;
          clientSignal.removeEventListener('abort', onClientGone);
          if (clientSignal.aborted) {
            await finish('client_disconnected', 'client_disconnected');
            return null;
          }
          const timedOut = upstream.timedOut();
          const code = timedOut ? 'upstream_timeout' : 'upstream_stream_broken';
          await finish(timedOut ? 'timeout' : 'upstream_error', code);
          const message = timedOut ? 'The backend did not finish in time' : 'The backend stream broke off';
          return `data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code } })}\n\n`;
        }
        const events = chunk.done ? splitter.end() : splitter.push(chunk.value);
        let text = '';
        for (const event of events) {
          const relayed = await relayEvent(event.raw, event.data);
          if (relayed) text += `${relayed}\n\n`;
        }
        if (chunk.done) {
          ended = true;
          clientSignal.removeEventListener('abort', onClientGone);
          await finish('ok', null);
        }
        if (text) return text;
      }
      return null;
    },
    async cancel() {
      ended = true;
      clientSignal.removeEventListener('abort', onClientGone);
      upstream.abort();
      await source.cancel().catch(() => undefined);
      await finish('client_disconnected', 'client_disconnected');
    },
  };

  /** Returns the event text to send to the client, or null to drop it. */
  async function relayEvent(raw: string, data: string | null): Promise<string | null> {
    if (data === '[DONE]' && exchange.request.includeUsage && reported === null) {
      // The client asked for usage and the backend sent none: give it what the gateway bills.
      const charge = await exchange.meter.quote({ reported: null, relayed: generated.texts(), promptRead: true });
      const object = exchange.request.endpoint === 'completions' ? 'text_completion' : 'chat.completion.chunk';
      const chunk = { object, model: exchange.request.model, choices: [], usage: usageView(charge, exchange.request.endpoint, null) };
      return `data: ${JSON.stringify(chunk)}\n\n${raw}`;
    }
    if (data === null || data === '[DONE]') return raw;
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return raw;
    }
    if (!isRecord(payload)) return raw;
    if (Array.isArray(payload.choices) && payload.choices.length === 0 && payload.usage !== undefined && payload.usage !== null) {
      // The final usage chunk: the backend's totals, the only usage billed from.
      reported = readUsage(payload.usage);
      if (!exchange.request.includeUsage) return null;
      const charge = await exchange.meter.quote({ reported, relayed: generated.texts(), promptRead: true });
      payload.usage = usageView(charge, exchange.request.endpoint, payload.usage);
      return `data: ${JSON.stringify(payload)}`;
    }
    generated.add(payload);
    if (ttftMs === null && !generated.isEmpty) ttftMs = Math.round(performance.now() - exchange.startedAt);
    return raw;
  }

  return {
    status: 200,
    headers: { ...exchange.headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
    stream,
  };
}

function errorResponse(exchange: Exchange, status: number, message: string, code: string): Reply {
  return {
    status,
    headers: { ...exchange.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ error: { message, type: 'server_error', param: null, code } }),
  };
}
