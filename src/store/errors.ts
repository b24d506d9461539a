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

/**
 * Rejects with DeadlineError when `work` takes longer than `ms` (it keeps running; `onExpiry`
 * may end it). `ms` <= 0: no deadline.
 *
 * @example
 * const rows = await withDeadline(store.rows(query), 2_000);
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onExpiry?: () => void): Promise<T> {
  if (!(ms > 0)) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new DeadlineError(`no answer from the database within ${ms} ms`));
      onExpiry?.();
    }, ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/**
 * withDeadline for work made of steps (a transaction's statements): rejects with DeadlineError
 * when `ms` pass with no step settling. Each step handed to `progress` restarts the clock when it
 * settles, so a long transaction of quick statements runs on, while one statement (or link) that
 * stalls still fails it within `ms`. `ms` <= 0: no deadline.
 *
 * @example
 * await withIdleDeadline(10_000, () => {}, (progress) => runSteps((step) => progress(step)));
 */
export function withIdleDeadline<T>(
  ms: number,
  onExpiry: () => void,
  work: (progress: <S extends PromiseLike<unknown>>(step: S) => S) => Promise<T>,
): Promise<T> {
  if (!(ms > 0)) return work((step) => step);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let expire!: (error: Error) => void;
  const deadline = new Promise<never>((_, reject) => (expire = reject));
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      expire(new DeadlineError(`no answer from the database within ${ms} ms`));
      onExpiry();
    }, ms);
  };
  arm();
  const progress = <S extends PromiseLike<unknown>>(step: S): S => {
    step.then(arm, arm);
    return step;
  };
  return Promise.race([work(progress), deadline]).finally(() => clearTimeout(timer));
}

// Driver codes after which a statement surely did not commit: no connection was made (refused,
// unknown host, connect timeout, pool ended), or the peer had closed it before any answer
// (CONNECTION_CLOSED, EPIPE: a server that committed answers first, and TCP keeps the order).
// A reset (ECONNRESET), our own deadline and our own pool's end remain ambiguous.
const NO_COMMIT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_ENDED',
  'CONNECTION_CLOSED',
  'EPIPE',
]);

/**
 * The statement may have committed although we got an error: the link was reset, our deadline
 * ran out, or our pool was ended under it, after it was (or may have been) sent. An error the
 * server itself reported rolled its implicit transaction back.
 */
export function mayHaveCommitted(error: unknown): boolean {
  if (error instanceof DeadlineError) return true;
  const code = sqlState(error);
  if (/^[0-9A-Z]{5}$/.test(code) && !CONNECTION_CODES.has(code)) return false;
  const root = rootCause(error) as { message?: unknown } | null;
  if (typeof root?.message === 'string' && /PGlite is closed/i.test(root.message)) return false;
  return !NO_COMMIT_CODES.has(code);
}
