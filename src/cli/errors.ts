/** The ways a CLI run fails, each with its own exit code (see `exitCodes`). */

export const exitCodes = { ok: 0, gatewayError: 1, usage: 2, unreachable: 3, differences: 4 } as const;

/** `report reconcile` found the ledger, rollup, budgets or statements not tying out. Exit 4. */
export class DifferencesFound extends Error {
  override readonly name = 'DifferencesFound';
}

/** Bad command line: unknown command or flag, missing or malformed value. Exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The OpenAI-shaped error body the gateway answers with. */
export interface ApiErrorBody {
  error: { message: string; type?: string | null; param?: string | null; code?: string | null };
}

/** The gateway answered with a non-2xx status. Exit 1. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
    readonly requestId: string | null,
  ) {
    super(body.error.message);
  }

  /** One line for a human: the gateway's message, then status, code and param. */
  describe(): string {
    const { code, param } = this.body.error;
    const facts = [`HTTP ${this.status}`];
    if (code) facts.push(`code: ${code}`);
    if (param) facts.push(`param: ${param}`);
    if (this.requestId) facts.push(`request: ${this.requestId}`);
    return `${this.message} (${facts.join(', ')})`;
  }
}

/** No HTTP answer at all: refused, DNS failure, timeout. Exit 3. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach the gateway at ${url} (${reason})`);
  }
}
