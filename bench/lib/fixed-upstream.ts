/**
 * A fixed-answer OpenAI-compatible upstream for benchmarks: the same small chat completion (or
 * SSE stream with a usage chunk) for every request, with no work of its own, so what a gateway
 * adds is all that differs. Run as its own process: `npx tsx bench/lib/fixed-upstream.ts PORT`.
 */
import { createServer } from 'node:http';

const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'served-name',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Paris is the capital of France.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 14, completion_tokens: 8, total_tokens: 22 },
});

const chunk = (delta: object, finish: string | null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'served-name', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const stream = [
  chunk({ role: 'assistant', content: '' }, null),
  ...['Paris', ' is', ' the', ' capital', ' of', ' France', '.'].map((word) => chunk({ content: word }, null)),
  chunk({}, 'stop'),
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'served-name', choices: [], usage: { prompt_tokens: 14, completion_tokens: 8, total_tokens: 22 } })}\n\n`,
  'data: [DONE]\n\n',
].join('');

export function startFixedUpstream(port: number): Promise<number> {
  const server = createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    let size = 0;
    let streamed = false;
    req.on('data', (data: Buffer) => {
      // Only the first bytes matter: is it a stream?
      if (size === 0) streamed = data.includes('"stream":true');
      size += data.length;
    });
    req.on('end', () => {
      if (req.url?.endsWith('/models'))
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}');
      if (streamed) res.writeHead(200, { 'content-type': 'text/event-stream' }).end(stream);
      else res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(completion) }).end(completion);
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

if (process.argv[1]?.endsWith('fixed-upstream.ts')) {
  const port = await startFixedUpstream(Number(process.argv[2] ?? 0));
  console.log(`fixed upstream on ${port}`);
}
