import type { Admission, Settlement } from '../ledger/types';
import { costOf, type Money, type Price } from '../pricing';

/**
 * One line of the fail-open journal. `admitted` is written before the request goes upstream,
 * with what it takes to bill the prompt if the process dies; `settled` holds the whole final row.
 */
export type JournalEntry =
  | { kind: 'admitted'; admission: Admission; price: Price; reservedCost: Money }
  | { kind: 'settled'; settlement: Settlement };

export const requestKey = (row: { keyId: string; requestId: string }) => `${row.keyId}\u0000${row.requestId}`;

export function idOf(entry: JournalEntry): string {
  return requestKey(entry.kind === 'admitted' ? entry.admission : entry.settlement);
}

/** One JSON line; bigints and dates tagged so they come back as themselves. */
export function encodeEntry(entry: JournalEntry): string {
  return `${JSON.stringify(entry, function tag(this: Record<string, unknown>, key, value) {
    const raw = this[key];
    if (typeof raw === 'bigint') return { $big: raw.toString() };
    if (raw instanceof Date) return { $date: raw.toISOString() };
    return value;
  })}\n`;
}

/** The entry of one line, or null for a line that is not one (a write torn by a crash). */
export function decodeEntry(line: string): JournalEntry | null {
  let entry: unknown;
  try {
    entry = JSON.parse(line, (_key, value) => {
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        if (typeof value.$big === 'string') return BigInt(value.$big);
        if (typeof value.$date === 'string') return new Date(value.$date);
      }
      return value;
    });
  } catch {
    return null;
  }
  const kind = (entry as { kind?: unknown } | null)?.kind;
  return kind === 'admitted' || kind === 'settled' ? (entry as JournalEntry) : null;
}

/** Folds entries per request: a settlement replaces its admission, and a later line wins. */
export function fold(entries: Iterable<JournalEntry>, into = new Map<string, JournalEntry>()): Map<string, JournalEntry> {
  for (const entry of entries) {
    const id = idOf(entry);
    if (entry.kind === 'admitted' && into.get(id)?.kind === 'settled') continue;
    into.set(id, entry);
  }
  return into;
}

/**
 * The final row a journal entry stands for. A request admitted and never settled (its process
 * died) is billed what is known, as the sweeper bills an abandoned pending row: the prompt at
 * its price, no completion, status `incomplete`.
 */
export function finalRowOf(entry: JournalEntry, now: Date): Settlement {
  if (entry.kind === 'settled') return entry.settlement;
  const { admission, price, reservedCost } = entry;
  return {
    requestId: admission.requestId,
    keyId: admission.keyId,
    startedAt: admission.startedAt,
    status: 'incomplete',
    promptTokens: admission.promptTokens,
    completionTokens: 0,
    usageSource: 'none',
    usageNote: null,
    completionTokensEstimated: null,
    billedCost: costOf(price, { promptTokens: admission.promptTokens, completionTokens: 0 }).total,
    latencyMs: null,
    ttftMs: null,
    errorCode: 'gateway_stopped',
    finishedAt: now,
    row: { admission, priceId: price.id || null, reservedCost, admittedFailOpen: true },
  };
}
