import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/**
 * The upstream client on Node: plain node:http with keep-alive pools, which costs less per
 * request than undici's fetch. It implements only what callUpstream uses (POST with a string
 * body, headers, an AbortSignal) and answers a web Response, so the relay code is the same on
 * both runtimes. Workers keep the platform's fetch.
 */
export function nodeUpstreamFetch(maxSockets = 256): typeof fetch {
  const agents = { http: new HttpAgent({ keepAlive: true, maxSockets }), https: new HttpsAgent({ keepAlive: true, maxSockets }) };
  return ((input: string | URL | Request, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const secure = url.protocol === 'https:';
      const body = typeof init.body === 'string' ? init.body : undefined;
      const headers = { ...(init.headers as Record<string, string>), ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) };
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        { method: init.method ?? 'GET', headers, agent: secure ? agents.https : agents.http, signal: init.signal ?? undefined },
        (res: IncomingMessage) => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          const nullBody = res.statusCode === 204 || res.statusCode === 304;
          resolve(new Response(nullBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status: res.statusCode ?? 502, statusText: res.statusMessage, headers: responseHeaders }));
        },
      );
      req.on('error', reject);
      req.end(body);
    })) as typeof fetch;
}
