/** A W3C `traceparent`: version, trace id, parent id, flags (https://www.w3.org/TR/trace-context/). */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_PARENT = '0'.repeat(16);

/**
 * The trace context to send the backend: the client's `traceparent` when it is valid, passed on
 * unchanged (the gateway records no span of its own, so the backend's span hangs directly under
 * the application's), else a new sampled one, so every request can be followed to its replica
 * and found in the ledger. `tracestate` goes along only with a valid `traceparent`.
 *
 * @example
 * traceContext('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'vendor=x')
 * // { traceparent: '00-4bf9…-00f067aa0ba902b7-01', tracestate: 'vendor=x' }
 */
export function traceContext(
  traceparent: string | undefined,
  tracestate: string | undefined,
): { traceparent: string; tracestate: string | null } {
  if (traceparent !== undefined && validTraceparent(traceparent)) return { traceparent, tracestate: tracestate || null };
  return { traceparent: `00-${randomHex(16)}-${randomHex(8)}-01`, tracestate: null };
}

function validTraceparent(text: string): boolean {
  const match = TRACEPARENT.exec(text);
  if (!match) return false;
  const [, version, traceId, parentId, , rest] = match;
  if (version === 'ff' || traceId === ZERO_TRACE || parentId === ZERO_PARENT) return false;
  // Version 00 has exactly four fields; a later version may add more after a dash.
  return version === '00' ? rest === undefined : true;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

// Random bytes are drawn 4 KiB at a time: one getRandomValues call per request and id was a
// measurable share of the gateway's CPU under load (a syscall-backed fill each time).
const POOL = new Uint8Array(4096);
let used = POOL.length;

/** `bytes` random bytes as hex, from the pool. */
export function randomHex(bytes: number): string {
  if (used + bytes > POOL.length) {
    crypto.getRandomValues(POOL);
    used = 0;
  }
  let text = '';
  for (let index = used; index < used + bytes; index++) text += HEX[POOL[index]!];
  used += bytes;
  return text;
}
