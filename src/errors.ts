import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** OpenAI's error `type` values, as its API returns them. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'server_error'
  | 'upstream_error'
  | 'timeout_error';

export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

/**
 * The one error the gateway throws on purpose. `onError` turns it into OpenAI's JSON shape;
 * anything else becomes a 500 whose message hides internals.
 */
export class GatewayError extends Error {
  readonly status: ContentfulStatusCode;
  readonly type: ErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    message: string,
    opts: { type?: ErrorType; code?: string | null; param?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.status = status;
    this.type = opts.type ?? defaultType(status);
    this.code = opts.code ?? null;
    this.param = opts.param ?? null;
    this.headers = opts.headers ?? {};
  }

  toJSON(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

function defaultType(status: number): ErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 504) return 'timeout_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new GatewayError(400, message, { param, code });

export const internalErrorBody = (): ErrorBody => ({
  error: { message: 'Internal gateway error', type: 'server_error', param: null, code: 'internal_error' },
});

/** 503 when the database cannot be reached: nothing can be checked or recorded (fail closed). */
export const ledgerUnavailable = (
  message = 'The usage ledger is unreachable, so no request can be admitted right now. Try again shortly.',
) => new GatewayError(503, message, { code: 'ledger_unavailable', headers: { 'retry-after': '1' } });
