/**
 * The closed sets of the ledger, each listed once: the types, the schema's CHECK constraints and
 * the API all read these lists.
 */

/** How a request ended. `pending` exists only between admission and its final row. */
export const REQUEST_STATUSES = ['pending', 'ok', 'upstream_error', 'client_disconnected', 'timeout', 'rejected', 'incomplete'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
export type FinalStatus = Exclude<RequestStatus, 'pending'>;
export const FINAL_STATUSES = REQUEST_STATUSES.filter((status): status is FinalStatus => status !== 'pending');

/** Where the billed token counts came from (see bill.ts for the rule). */
export const USAGE_SOURCES = ['upstream', 'gateway', 'none'] as const;
export type UsageSource = (typeof USAGE_SOURCES)[number];

/**
 * Why the gateway's own count was billed instead of the backend's usage; null when the backend's
 * usage was billed or nothing was.
 */
export const USAGE_NOTES = [
  'no_usage',
  'completion_below_relayed',
  'completion_above_cap',
  'prompt_above_cap',
  'prompt_missing',
  'not_processed',
] as const;
export type UsageNote = (typeof USAGE_NOTES)[number];

export const ENDPOINTS = ['chat.completions', 'completions', 'embeddings'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** SQL `IN (…)` list of a closed set, for CHECK constraints. */
export function sqlList(values: readonly string[]): string {
  return values.map((value) => `'${value.replaceAll("'", "''")}'`).join(', ');
}
