/**
 * A backend's `Retry-After` in milliseconds from `nowMs` (epoch): delay-seconds or an HTTP date,
 * capped at `maxMs`; 0 when absent or unreadable.
 *
 * @example
 * retryAfterMs('7', Date.now(), 30_000)     // 7000
 * retryAfterMs('3600', Date.now(), 30_000)  // 30000: honoured within the bound
 */
export function retryAfterMs(header: string | null, nowMs: number, maxMs: number): number {
  if (header === null) return 0;
  const text = header.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return 0;
    ms = at - nowMs;
  }
  return Math.min(Math.max(ms, 0), maxMs);
}

/**
 * Answers that say the backend did not take the request (overloaded, or rate limited) and that a
 * retry elsewhere cannot duplicate: vLLM, SGLang and TGI send them before doing any work.
 */
export function refusedUntried(status: number): boolean {
  return status === 503 || status === 429;
}
