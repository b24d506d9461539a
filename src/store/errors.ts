/** The innermost cause: drizzle wraps driver errors (its message carries the query and its parameters). */
export function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current instanceof Error && current.cause !== undefined; depth++) current = current.cause;
  return current;
}

/**
 * A driver error as one log line: the innermost message and its code, never the statement or its
 * parameters (drizzle's own message carries both, and parameters include key hashes).
 */
export function describeError(error: unknown): string {
  const root = rootCause(error);
  if (root instanceof Error) {
    const code = (root as { code?: unknown }).code;
    const message = root.message.startsWith('Failed query:') ? 'query failed' : root.message;
    return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
  }
  return typeof root === 'string' ? root : 'unknown error';
}

const sqlState = (error: unknown): string => {
  const code = (rootCause(error) as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
};

// SQLSTATE classes that no retry will fix: bad data, constraint violations, bad SQL.
const PERMANENT_CLASSES = new Set(['21', '22', '23', '2B', '42', '44', 'P0', '0A']);

/**
 * True for a Postgres error of a class that retrying cannot fix. Connection errors, deadlocks,
 * serialization failures and anything unrecognized are not permanent: holding a row is better
 * than losing it.
 */
export function isPermanent(error: unknown): boolean {
  const code = sqlState(error);
  return /^[0-9A-Z]{5}$/.test(code) && PERMANENT_CLASSES.has(code.slice(0, 2));
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
  'DEADLINE',
]);

/**
 * The database could not be reached or is going away: connection errors, our own deadlines,
 * SQLSTATE classes 08 (connection), 53 (resources), 57P (shutdown), 57014 (statement timeout),
 * a closed PGlite. Narrower than "not permanent": a missing price or a bug must not read as
 * "ledger unavailable".
 */
export function isUnavailable(error: unknown): boolean {
  const root = rootCause(error) as { code?: unknown; message?: unknown } | null;
  const code = sqlState(error);
  if (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('53') || code.startsWith('57P') || code === '57014')
    return true;
  return typeof root?.message === 'string' && /PGlite is closed/i.test(root.message);
}

/** A unique violation: for admission, the key already used this request id. */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}

/** Our own deadline on a database call ran out; the call may still complete on the server. */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
  readonly code = 'DEADLINE';
}
