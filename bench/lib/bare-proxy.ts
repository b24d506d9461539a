/**
 * The floor of any Node gateway: node:http in, node:http (keep-alive) out to the upstream, the
 * body passed through untouched and the answer piped back, nothing parsed, counted or recorded.
 * What it adds over calling the upstream directly is the cost of the extra hop itself on this
 * machine. Run as its own process: `npx tsx bench/lib/bare-proxy.ts PORT UPSTREAM_URL`.
 */
import { Agent, createServer, request } from 'node:http';

export function startBareProxy(port: number, upstreamUrl: string): Promise<number> {
  const upstream = new URL(upstreamUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const server = createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `${upstream.pathname.replace(/\/$/, '')}${req.url?.replace(/^\/v1/, '') ?? ''}`,
        headers: {
          'content-type': req.headers['content-type'] ?? 'application/json',
          'content-length': req.headers['content-length'] ?? '0',
        },
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

if (process.argv[1]?.endsWith('bare-proxy.ts')) {
  const port = await startBareProxy(Number(process.argv[2] ?? 0), process.argv[3]!);
  console.log(`bare proxy on ${port}`);
}
