import { costOf, formatUsd, type Price } from '../pricing';
import { countText, loadCounter } from '../tokenize';
import type { FinalStatus, Settlement } from '../usage/types';
import type { Plan } from './plan';
import type { ProxyRequest } from './request';
import { SseSplitter } from './sse';
import type { UpstreamResponse } from './upstream';
import { GeneratedText, isRecord, readUsage, type UpstreamUsage } from './usage';

/** One admitted request on its way through the backend. */
export interface Exchange {
  requestId: string;
  request: ProxyRequest;
  plan: Plan;
  price: Price;
  /** performance.now() at arrival. */
  startedAt: number;
  headers: Record<string, string>;
  settle: (settlement: Settlement) => void;
  now: () => Date;
}

interface Outcome {
  status: FinalStatus;
  usage: UpstreamUsage | null;
  generated: GeneratedText;
  ttftMs: number | null;
  errorCode: string | null;
}

/** Billed tokens and cost: the backend's usage when present, else the gateway's own count. */
async function measure(exchange: Exchange, outcome: Outcome) {
  const counter = await loadCounter(exchange.plan.served.encoding);
  let estimated = 0;
  for (const text of outcome.generated.texts()) estimated += await countText(counter, text);
  // The backend read the prompt if it answered, or if the client left while it worked on it.
  const promptRead = outcome.status === 'ok' || outcome.status === 'client_disconnected' || estimated > 0;
  const promptTokens = outcome.usage?.promptTokens ?? (promptRead ? exchange.plan.promptTokens : 0);
  const completionTokens = outcome.usage?.completionTokens ?? estimated;
  const cost = costOf(exchange.price, { promptTokens, completionTokens });
  const settlement: Settlement = {
    requestId: exchange.requestId,
    status: outcome.status,
    promptTokens,
    completionTokens,
    usageSource: outcome.usage ? 'upstream' : promptTokens + completionTokens > 0 ? 'gateway' : 'none',
    completionTokensEstimated: exchange.request.endpoint === 'embeddings' ? null : estimated,
    billedCost: cost.total,
    latencyMs: Math.round(performance.now() - exchange.startedAt),
    ttftMs: outcome.ttftMs,
    errorCode: outcome.errorCode,
    finishedAt: exchange.now(),
  };
  return { settlement, cost };
}

/**
 * A non-2xx answer from the backend keeps its status and message. Bodies already in OpenAI's
 * shape pass untouched; vLLM's older flat shape and plain text are wrapped in it, so SDKs can
 * read them. Nothing was generated, so nothing is billed.
 */
export async function relayUpstreamError(exchange: Exchange, upstream: UpstreamResponse): Promise<Response> {
  const status = upstream.response.status;
  const text = await upstream.response.text().catch(() => '');
  upstream.release();
  const { settlement } = await measure(exchange, {
    status: 'upstream_error',
    usage: null,
    generated: new GeneratedText(),
    ttftMs: null,
    errorCode: `upstream_${status}`,
  });
  exchange.settle(settlement);
  const headers = new Headers(exchange.headers);
  headers.set('content-type', 'application/json');
  return new Response(openAiErrorBody(status, text), { status, headers });
}

export function openAiErrorBody(status: number, text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (isRecord(parsed) && isRecord(parsed.error) && typeof parsed.error.message === 'string') return text;
  const message = isRecord(parsed) && typeof parsed.message === 'string' ? parsed.message : text.slice(0, 2000) || `The backend answered ${status}`;
  const code = /maximum context length/i.test(message) ? 'context_length_exceeded' : `upstream_${status}`;
  const type = status >= 500 ? 'upstream_error' : 'invalid_request_error';
  const param = isRecord(parsed) && typeof parsed.param === 'string' ? parsed.param : null;
  return JSON.stringify({ error: { message, type, param, code } });
}

/** Non-streamed: read the answer, bill it, and add `usage.cost`. */
export async function relayJson(exchange: Exchange, upstream: UpstreamResponse, clientSignal: AbortSignal): Promise<Response> {
  let payload: unknown;
  let failure: Outcome | null = null;
  try {
    const text = await upstream.response.text();
    upstream.release();
    payload = JSON.parse(text);
  } catch {
    upstream.release();
    const status = clientSignal.aborted ? 'client_disconnected' : upstream.timedOut() ? 'timeout' : 'upstream_error';
    const errorCode = { client_disconnected: 'client_disconnected', timeout: 'upstream_timeout', upstream_error: 'upstream_bad_response' }[status];
    failure = { status, usage: null, generated: new GeneratedText(), ttftMs: null, errorCode };
  }
  if (failure || !isRecord(payload)) {
    const outcome = failure ?? { status: 'upstream_error' as const, usage: null, generated: new GeneratedText(), ttftMs: null, errorCode: 'upstream_bad_response' };
    exchange.settle((await measure(exchange, outcome)).settlement);
    const timeout = outcome.status === 'timeout';
    return errorResponse(exchange, timeout ? 504 : 502, timeout ? 'The backend did not finish in time' : 'The backend sent a response that is not JSON', outcome.errorCode!);
  }
  const generated = new GeneratedText();
  generated.add(payload);
  const usage = readUsage(payload.usage);
  const { settlement, cost } = await measure(exchange, { status: 'ok', usage, generated, ttftMs: null, errorCode: null });
  exchange.settle(settlement);
  payload.usage = {
    ...(isRecord(payload.usage) ? payload.usage : {}),
    prompt_tokens: settlement.promptTokens,
    ...(exchange.request.endpoint === 'embeddings' ? {} : { completion_tokens: settlement.completionTokens }),
    total_tokens: settlement.promptTokens + settlement.completionTokens,
    cost: formatUsd(cost.total),
  };
  const headers = new Headers(exchange.headers);
  headers.set('content-type', 'application/json');
  headers.set('x-tollgate-cost', formatUsd(cost.total));
  return new Response(JSON.stringify(payload), { status: upstream.response.status, headers });
}

/**
 * Streamed: each complete SSE event is relayed as soon as it arrives. The usage chunk the gateway
 * asked for is dropped unless the client asked for it too, in which case it gains `cost`.
 */
export function relayStream(exchange: Exchange, upstream: UpstreamResponse, clientSignal: AbortSignal): Response {
  const encoder = new TextEncoder();
  const splitter = new SseSplitter();
  const generated = new GeneratedText();
  const reader = upstream.response.body!.getReader();
  let usage: UpstreamUsage | null = null;
  let ttftMs: number | null = null;
  let settled = false;

  const finish = async (status: FinalStatus, errorCode: string | null) => {
    if (settled) return null;
    settled = true;
    upstream.release();
    const { settlement, cost } = await measure(exchange, { status, usage, generated, ttftMs, errorCode });
    exchange.settle(settlement);
    return cost;
  };
  const onClientGone = () => {
    upstream.abort();
    void finish('client_disconnected', 'client_disconnected');
  };
  clientSignal.addEventListener('abort', onClientGone, { once: true });

  const body = new ReadableStream<Uint8Array>({
    async pull(out) {
      // Loop until something is enqueued: a read may hold only part of an event.
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch {
          clientSignal.removeEventListener('abort', onClientGone);
          if (clientSignal.aborted) return void (await finish('client_disconnected', 'client_disconnected'));
          const timedOut = upstream.timedOut();
          await finish(timedOut ? 'timeout' : 'upstream_error', timedOut ? 'upstream_timeout' : 'upstream_stream_broken');
          out.enqueue(encoder.encode(`data: ${JSON.stringify({ error: { message: timedOut ? 'The backend did not finish in time' : 'The backend stream broke off', type: 'server_error', param: null, code: timedOut ? 'upstream_timeout' : 'upstream_stream_broken' } })}\n\n`));
          return out.close();
        }
        const events = chunk.done ? splitter.end() : splitter.push(chunk.value);
        let text = '';
        for (const event of events) {
          const relayed = await relayEvent(event.raw, event.data);
          if (relayed) text += `${relayed}\n\n`;
        }
        if (text) out.enqueue(encoder.encode(text));
        if (chunk.done) {
          clientSignal.removeEventListener('abort', onClientGone);
          await finish('ok', null);
          return out.close();
        }
        if (text) return;
      }
    },
    async cancel() {
      clientSignal.removeEventListener('abort', onClientGone);
      upstream.abort();
      await reader.cancel().catch(() => undefined);
      await finish('client_disconnected', 'client_disconnected');
    },
  });

  /** Returns the event text to send to the client, or null to drop it. */
  async function relayEvent(raw: string, data: string | null): Promise<string | null> {
    if (data === '[DONE]' && exchange.request.includeUsage && usage === null) {
      // The client asked for usage and the backend sent none: give it the gateway's own count.
      const { promptTokens, completionTokens, cost } = await gatewayUsage();
      const chunk = { object: `${exchange.request.endpoint === 'completions' ? 'text_completion' : 'chat.completion.chunk'}`, model: exchange.request.model, choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens, cost: formatUsd(cost) } };
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
    const reported = readUsage(payload.usage);
    if (reported) usage = reported;
    const isUsageChunk = reported !== null && Array.isArray(payload.choices) && payload.choices.length === 0;
    if (isUsageChunk) {
      if (!exchange.request.includeUsage) return null;
      const { promptTokens, completionTokens } = reported;
      const cost = costOf(exchange.price, { promptTokens, completionTokens });
      payload.usage = { ...(payload.usage as object), cost: formatUsd(cost.total) };
      return `data: ${JSON.stringify(payload)}`;
    }
    generated.add(payload);
    if (ttftMs === null && !generated.isEmpty) ttftMs = Math.round(performance.now() - exchange.startedAt);
    return raw;
  }

  async function gatewayUsage() {
    const counter = await loadCounter(exchange.plan.served.encoding);
    let completionTokens = 0;
    for (const text of generated.texts()) completionTokens += await countText(counter, text);
    const promptTokens = exchange.plan.promptTokens;
    return { promptTokens, completionTokens, cost: costOf(exchange.price, { promptTokens, completionTokens }).total };
  }

  const headers = new Headers(exchange.headers);
  headers.set('content-type', 'text/event-stream; charset=utf-8');
  headers.set('cache-control', 'no-cache');
  return new Response(body, { status: 200, headers });
}

function errorResponse(exchange: Exchange, status: number, message: string, code: string): Response {
  const headers = new Headers(exchange.headers);
  headers.set('content-type', 'application/json');
  return new Response(JSON.stringify({ error: { message, type: 'server_error', param: null, code } }), { status, headers });
}
