import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';

/**
 * How long an idle keep-alive connection stays open: past the 60 s idle timeout of load balancers
 * and proxy pools (AWS ALB, nginx), so the client closes first. With Node's 5 s default, a client
 * that reuses a connection as the server closes it gets ECONNRESET.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface NodeServer {
  /** The port it listens on (the one the system chose when asked for 0). */
  readonly port: number;
  /** Stops accepting connections; resolves once every request in flight is answered and every connection closed. */
  close(): Promise<void>;
}

/**
 * The app over HTTP/1.1 on Node, listening once this resolves.
 *
 * @example
 * const server = await listen(app.fetch, { port: 8787, hostname: '127.0.0.1' });
 * process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
 */
export function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  at: { port: number; hostname: string },
): Promise<NodeServer> {
  const server = createAdaptorServer({ fetch, serverOptions: { keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS } }) as Server;
  // close() ends only the connections idle at that moment; one still busy would then stay open for
  // the whole keep-alive timeout. So while closing, idle ones are closed every 25 ms (a connection
  // is idle once its request is read and its answer sent): no listener per request on the hot path.
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.hostname, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => {
          const sweeper = setInterval(() => server.closeIdleConnections(), 25);
          return new Promise((closed) =>
            server.close(() => {
              clearInterval(sweeper);
              closed();
            }),
          );
        },
      });
    });
  });
}
