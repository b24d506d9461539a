/**
 * Admission could not reach the database. `ambiguous`: the statement was sent and our deadline
 * ran out, so it may still commit; the request's id must then be voided (a final row at no cost)
 * so a late admission cannot reserve or bill anything.
 */
export class LedgerUnavailableError extends Error {
  override name = 'LedgerUnavailableError';
  readonly ambiguous: boolean;

  constructor(message: string, options: { cause?: unknown; ambiguous?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.ambiguous = options.ambiguous ?? false;
  }
}

/** The key already used this request id (this month): nothing was reserved or written. */
export class DuplicateRequestIdError extends Error {
  override name = 'DuplicateRequestIdError';
}
