import type { Rejection, Settlement } from '../ledger/types';
import { formatUsd } from '../pricing';
import type { LedgerTap } from './ledger-tap';

/**
 * One JSON line per request, when its row is final (`gateway.logging.requests`): request id,
 * key id, model, replica, attempts, status, tokens, cost and timings, and the trace context.
 * Never the key's secret, never the prompt or the completion. The key is named by its id, which
 * stays the same when the key is rotated (its display prefix does not).
 *
 * @example
 * {"at":"2025-01-01T00:00:00.000Z","event":"request","requestId":"req_…","keyId":"key_…","model":"gpt-4",
 *  "replica":"gpu-b","attempts":2,"status":"ok","promptTokens":9,"completionTokens":12,"cost":"0.00099",…}
 */
export class RequestLog implements LedgerTap {
  constructor(private readonly log: (line: string) => void) {}

  settled(s: Settlement): void {
    const admission = s.row?.admission;
    this.log(
      JSON.stringify({
        at: s.finishedAt.toISOString(),
        event: 'request',
        requestId: s.requestId,
        keyId: s.keyId,
        endpoint: admission?.endpoint ?? null,
        model: admission?.routedModel ?? null,
        requestedModel: admission?.requestedModel ?? null,
        stream: admission?.stream ?? null,
        replica: s.replica ?? null,
        attempts: s.attempts ?? null,
        status: s.status,
        error: s.errorCode,
        promptTokens: s.promptTokens,
        completionTokens: s.completionTokens,
        usageSource: s.usageSource,
        cost: formatUsd(s.billedCost),
        latencyMs: s.latencyMs,
        ttftMs: s.ttftMs,
        traceparent: s.traceparent ?? null,
      }),
    );
  }

  rejected(r: Rejection): void {
    this.log(
      JSON.stringify({
        at: r.finishedAt.toISOString(),
        event: 'request',
        requestId: r.requestId,
        keyId: r.keyId,
        endpoint: r.endpoint,
        model: r.routedModel ?? r.requestedModel,
        requestedModel: r.requestedModel,
        stream: r.stream,
        replica: null,
        attempts: 0,
        status: 'rejected',
        error: r.errorCode,
        promptTokens: 0,
        completionTokens: 0,
        usageSource: 'none',
        cost: '0',
        latencyMs: null,
        ttftMs: null,
        traceparent: r.traceparent ?? null,
      }),
    );
  }
}
