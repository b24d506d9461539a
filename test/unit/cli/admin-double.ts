import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from '../../../src/cli';

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

export interface Reply {
  status?: number;
  body?: unknown;
  /** Sent as-is instead of JSON (for non-JSON error pages). */
  raw?: string;
  headers?: Record<string, string>;
}

type Route = (request: RecordedRequest) => Reply;

/**
 * A tiny real HTTP server standing in for the admin API: `routes` maps `METHOD /path` to a
 * reply; every request is recorded; an unrouted request gets the gateway's 404 shape.
 */
export async function startAdminDouble(routes: Record<string, Route | Reply>) {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      body: text === '' ? undefined : JSON.parse(text),
    };
    requests.push(recorded);
    const route = routes[`${recorded.method} ${recorded.url}`];
    const reply: Reply = typeof route === 'function' ? route(recorded) : (route ?? notFound(recorded));
    const payload = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
    res.writeHead(reply.status ?? 200, { 'content-type': reply.raw ? 'text/html' : 'application/json', ...reply.headers });
    res.end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function notFound(request: RecordedRequest): Reply {
  return {
    status: 404,
    body: {
      error: {
        message: `Unknown request URL: ${request.method} ${request.url}.`,
        type: 'invalid_request_error',
        param: null,
        code: 'unknown_url',
      },
    },
  };
}

export const apiError = (status: number, message: string, code: string | null = null, param: string | null = null): Reply => ({
  status,
  body: { error: { message, type: status === 404 ? 'not_found_error' : 'invalid_request_error', param, code } },
});

/** Runs the CLI in-process with captured output; `env` defaults to the double's URL and a token. */
export async function cli(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env,
    fetch: globalThis.fetch,
  });
  return { code, stdout, stderr };
}

/** A port that nothing listens on: bind one, then close it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
