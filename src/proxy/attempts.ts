import { type ModelRoute, type Replica, refusedUntried, retryAfterMs } from '../backends';
import { GatewayError } from '../errors';
import { ClientGoneError, callUpstream, type UpstreamCall, type UpstreamExchange, type UpstreamReply } from './upstream';

/** One admitted request on its way to a model's replicas: what every attempt sends, and where. */
export interface UpstreamRequest
  extends Pick<UpstreamCall, 'path' | 'body' | 'requestId' | 'traceparent' | 'tracestate' | 'clientSignal' | 'client'> {
  route: ModelRoute;
  /** The key it is billed to: the saturation queue is fair between keys. */
  keyId: string;
  /** Told before each attempt with its replica: the request's meter counts them and keeps the replica that served. */
  meter: { attempted(replica: string): void };
}

/**
 * Step 7: the attempt loop. Each attempt takes a replica from the model's route (waiting in its
 * queue when all are busy), sends the request and reports the backend's health. It goes on to
 * another replica only when nothing of the request can have been processed: the connection was
 * refused or reset before any response byte, or the backend answered 503 or 429 (its
 * `Retry-After` keeps the replica out for that long, within a bound). Never after a timeout, and
 * never once an answer is returned: the relay is the first to send anything to the client, so
 * nothing relayed is ever retried. Attempts stay within the request's deadline (the longest
 * timeout of the model's replicas, from the first attempt). The returned exchange holds its
 * replica's slot until the relay releases it. Failed attempts bill nothing: only the last one's
 * answer reaches the relay and the meter.
 *
 * @example
 * const upstream = await sendUpstream({ route, keyId, path: '/chat/completions', body, …, meter });
 */
export async function sendUpstream(request: UpstreamRequest): Promise<UpstreamExchange> {
  const { route } = request;
  const clock = route.clock;
  const { attempts, maxRetryAfterMs } = route.options.retry;
  const deadline = clock() + route.deadlineMs;
  let tried: Replica[] | null = null;
  /** What the last failed attempt got: a 503/429 answer, or a connection error. */
  let refusal: UpstreamReply | null = null;
  let failure: GatewayError | null = null;

  for (let attempt = 1; ; attempt++) {
    let replica: Replica | null;
    try {
      const acquired = route.acquire(request.keyId, tried, deadline, request.clientSignal);
      replica = acquired instanceof Promise ? await acquired : acquired;
    } catch (error) {
      if (request.clientSignal?.aborted) throw new ClientGoneError(false);
      if (attempt === 1) throw error;
      replica = null;
    }
    if (replica === null) {
      // No replica could take the retry in time: the client gets what the last attempt got.
      if (refusal) return { reply: refusal, abort: () => {}, timedOut: () => false, release: () => {} };
      throw failure ?? new GatewayError(503, `No replica of model '${route.model}' can take the request.`, { code: 'model_saturated' });
    }
    const trial = replica.lastTakeWasTrial;
    request.meter.attempted(replica.name);
    const sentAt = clock();
    let exchange: UpstreamExchange;
    try {
      exchange = await callUpstream({
        url: replica.url,
        apiKey: replica.apiKey,
        timeoutMs: Math.max(1, Math.min(replica.timeoutMs, deadline - sentAt)),
        backendName: replica.name,
        path: request.path,
        body: request.body,
        requestId: request.requestId,
        traceparent: request.traceparent,
        tracestate: request.tracestate,
        clientSignal: request.clientSignal,
        client: request.client,
      });
    } catch (error) {
      if (error instanceof ClientGoneError) {
        replica.release(trial);
        throw error;
      }
      replica.failed(clock(), trial, route.options.health);
      replica.release(trial);
      // 502 is a connection refused or reset before any response byte: the backend processed nothing.
      const unreached = error instanceof GatewayError && error.status === 502;
      if (!unreached || !mayRetry(route, replica, tried, attempt, attempts, deadline)) throw error;
      failure = error;
      refusal = null;
      (tried ??= []).push(replica);
      route.observer?.retried(route.model, 'connect');
      continue;
    }

    const status = exchange.reply.status;
    route.observer?.answered(replica, clock() - sentAt);
    if (refusedUntried(status) || status >= 500) {
      const waitMs = refusedUntried(status) ? retryAfterMs(exchange.reply.header('retry-after'), Date.now(), maxRetryAfterMs) : undefined;
      replica.failed(clock(), trial, route.options.health, waitMs);
      if (refusedUntried(status) && mayRetry(route, replica, tried, attempt, attempts, deadline)) {
        refusal = await keptReply(exchange);
        replica.release(trial);
        failure = null;
        (tried ??= []).push(replica);
        route.observer?.retried(route.model, status === 503 ? 'status_503' : 'status_429');
        continue;
      }
    } else replica.succeeded(trial);
    if (attempt > 1) route.observer?.failedOver(route.model);
    return holding(exchange, replica, trial, route);
  }
}

/** Attempts and time are left, and another replica not tried yet may be healthy. */
function mayRetry(
  route: ModelRoute,
  failed: Replica,
  tried: readonly Replica[] | null,
  attempt: number,
  attempts: number,
  deadline: number,
) {
  const now = route.clock();
  if (attempt >= attempts || now >= deadline) return false;
  return route.replicas.some((other) => other !== failed && !tried?.includes(other) && (other.healthy || other.trialDue(now)));
}

/** The exchange, releasing its replica's slot (once) when the relay releases it; a deadline passed while relaying counts against the replica. */
function holding(exchange: UpstreamExchange, replica: Replica, trial: boolean, route: ModelRoute): UpstreamExchange {
  const release = exchange.release;
  let held = true;
  exchange.release = () => {
    release();
    if (!held) return;
    held = false;
    if (exchange.timedOut()) replica.failed(route.clock(), trial, route.options.health);
    replica.release(trial);
  };
  return exchange;
}

/** A refused attempt's answer, read whole so its connection is free, to pass on if no other replica takes the request. */
async function keptReply(exchange: UpstreamExchange): Promise<UpstreamReply> {
  const { reply } = exchange;
  const text = await reply.text().catch(() => '');
  exchange.release();
  const retryAfter = reply.header('retry-after');
  return {
    status: reply.status,
    header: (name) => (name.toLowerCase() === 'retry-after' ? retryAfter : null),
    text: async () => text,
    reader: () => null,
  };
}
