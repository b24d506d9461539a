/** Admission could not reach the database; the request was neither admitted nor refused. */
export class LedgerUnavailableError extends Error {
  override name = 'LedgerUnavailableError';
}

/** The innermost cause: drizzle wraps driver errors (with the whole query in the message). */
export function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause !== undefined; depth++) current = current.cause;
  return current;
}

export function describeError(error: unknown): string {
  const root = rootCause(error);
  if (root instanceof Error) {
    const code = (root as { code?: unknown }).code;
    return typeof code === 'string' && !root.message.includes(code) ? `${root.message} (${code})` : root.message;
  }
  return String(root);
}

// SQLSTATE classes that no retry will fix: bad data, constraint violations, bad SQL.
const PERMANENT_CLASSES = new Set(['21', '22', '23', '2B', '42', '44', 'P0', '0A']);

/**
 * True unless the error is a Postgres error of a class that retrying cannot fix. Connection
 * errors (ECONNREFUSED, CONNECTION_CLOSED, a closed PGlite), deadlocks and serialization
 * failures, and anything unrecognized count as transient: holding a row is better than losing it.
 */
export function isTransient(error: unknown): boolean {
  const code = (rootCause(error) as { code?: unknown } | null)?.code;
  return !(typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && PERMANENT_CLASSES.has(code.slice(0, 2)));
}

// Driver codes for "could not talk to the server" (Node sockets, postgres.js).
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/**
 * The database could not be reached or is going away: connection errors, SQLSTATE classes 08
 * (connection), 53 (resources: too many connections), 57P (shutdown), a closed PGlite.
 * Narrower than isTransient: a missing price or a bug must not read as "ledger unavailable".
 */
export function isUnavailable(error: unknown): boolean {
  const root = rootCause(error) as { code?: unknown; message?: unknown } | null;
  const code = typeof root?.code === 'string' ? root.code : '';
  if (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('53') || code.startsWith('57P')) return true;
  return typeof root?.message === 'string' && /PGlite is closed/i.test(root.message);
}
