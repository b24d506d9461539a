import type { Context } from 'hono';
import type { HonoEnv, RequestIO } from '../deps';
import { GatewayError } from '../errors';
import type { Reply } from '../proxy/relay';

export const tooLarge = (maxBytes: number) =>
  new GatewayError(413, `The request body is larger than the limit of ${maxBytes} bytes.`, { code: 'request_too_large' });

/** The standard RequestIO, on the web Request: works on every runtime and with `app.request`. */
export const webRequestIO: RequestIO = {
  header(c, name) {
    return c.req.header(name);
  },
  async bodyText(c, maxBytes) {
    return new TextDecoder().decode(await readWebBody(c.req.raw, maxBytes));
  },
  clientSignal(c: Context<HonoEnv>) {
    return c.req.raw.signal;
  },
  respond(_c, reply) {
    return webResponse(reply);
  },
};

/** A reply as a web Response; a stream is pulled piece by piece as the client reads. */
export function webResponse(reply: Reply): Response {
  if ('body' in reply) return new Response(reply.body, { status: reply.status, headers: reply.headers });
  const { stream } = reply;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(out) {
      const text = await stream.next();
      if (text === null) out.close();
      else out.enqueue(encoder.encode(text));
    },
    cancel: () => stream.cancel(),
  });
  return new Response(body, { status: reply.status, headers: reply.headers });
}

async function readWebBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
