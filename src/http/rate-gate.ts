/**
 * Keys this instance knows are over their rate limit until a given instant (the end of the
 * minute the database refused them in). Their requests get 429 before their body is read or
 * counted, so a key past its rpm cannot keep spending the gateway's CPU. Per instance and only
 * ever set by a refusal from the shared rate window, so it never admits more than the limit.
 */
export class RateGate {
  readonly #closedUntil = new Map<string, { until: number; refusal: RateRefusal }>();

  constructor(private readonly maxKeys = 10_000) {}

  /** The refusal still in force for a key at `now` (ms), if any. */
  check(keyId: string, now: number): RateRefusal | null {
    const entry = this.#closedUntil.get(keyId);
    if (!entry) return null;
    if (entry.until <= now) {
      this.#closedUntil.delete(keyId);
      return null;
    }
    return { ...entry.refusal, retryAfterSeconds: Math.max(1, Math.ceil((entry.until - now) / 1000)) };
  }

  close(keyId: string, refusal: RateRefusal, now: number): void {
    if (this.#closedUntil.size >= this.maxKeys) this.#closedUntil.delete(this.#closedUntil.keys().next().value!);
    this.#closedUntil.set(keyId, { until: now + refusal.retryAfterSeconds * 1000, refusal });
  }
}

export interface RateRefusal {
  retryAfterSeconds: number;
  rpm: number | null;
  tpm: number | null;
}
