import { ApiError, type ApiErrorBody, UnreachableError } from './errors';

export interface AdminClientOptions {
  /** Gateway base URL; may carry a path prefix (`https://gw.example/tollgate`). */
  baseUrl: string;
  /** The operator token, sent as `Authorization: Bearer`. */
  token: string;
  fetch: typeof fetch;
  timeoutMs?: number;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * A minimal client for the gateway's admin API: JSON in, JSON out. A non-2xx answer throws
 * `ApiError`; no answer at all throws `UnreachableError`.
 *
 * @example
 * const client = new AdminClient({ baseUrl: 'http://127.0.0.1:8787', token, fetch });
 * const { data } = await client.request<{ data: unknown[] }>('GET', '/admin/keys');
 */
export class AdminClient {
  private readonly baseUrl: string;

  constructor(private readonly options: AdminClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  async request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const url = this.baseUrl + path;
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await this.options.fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
      text = await response.text();
    } catch (error) {
      throw new UnreachableError(this.baseUrl, reasonOf(error));
    }
    const requestId = response.headers.get('x-request-id');
    const parsed = parseJson(text);
    if (!response.ok) throw new ApiError(response.status, asErrorBody(response.status, parsed, text), requestId);
    if (parsed === undefined && text.trim() !== '') {
      throw new ApiError(response.status, { error: { message: `The gateway answered with a non-JSON body: ${snippet(text)}` } }, requestId);
    }
    return (parsed ?? null) as T;
  }

  /**
   * A report as text (CSV or HTML): the body as the gateway sent it, and its `x-tollgate-report`
   * header (what was asked, when, the totals). A non-2xx answer throws `ApiError`.
   */
  async requestText(method: Method, path: string, accept: string, body?: unknown): Promise<{ text: string; report: string | null }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}`, accept };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await this.options.fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 300_000),
      });
      text = await response.text();
    } catch (error) {
      throw new UnreachableError(this.baseUrl, reasonOf(error));
    }
    if (!response.ok)
      throw new ApiError(response.status, asErrorBody(response.status, parseJson(text), text), response.headers.get('x-request-id'));
    return { text, report: response.headers.get('x-tollgate-report') };
  }

  /** Like `request`, but a 404 answers `null` (e.g. a key without a budget). */
  async requestOrNull<T>(method: Method, path: string): Promise<T | null> {
    try {
      return await this.request<T>(method, path);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }
}

/** A URL path whose interpolated parts are escaped: path`/admin/models/${'org/llama'}/prices`. */
export function path(strings: TemplateStringsArray, ...params: string[]): string {
  return strings.reduce((out, literal, i) => out + literal + (i < params.length ? encodeURIComponent(params[i]!) : ''), '');
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function asErrorBody(status: number, parsed: unknown, text: string): ApiErrorBody {
  const error = (parsed as { error?: { message?: unknown } } | undefined)?.error;
  if (error && typeof error.message === 'string') return parsed as ApiErrorBody;
  const detail = text.trim() === '' ? '' : `: ${snippet(text)}`;
  return { error: { message: `The gateway answered HTTP ${status}${detail}`, type: null, param: null, code: null } };
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

// fetch reports a refused connection as TypeError('fetch failed') with the system error as cause.
function reasonOf(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return error instanceof Error ? error.message : String(error);
}
