import type { EncodingName } from '../../src/config';
import { countChatRequest, loadCounter, tokenizerStats } from '../../src/tokenize';
import { FIRST_REQUEST } from './coldstart-request';

/**
 * A Worker around the tokenizer alone, for bench/coldstart.ts and test/e2e/worker-tokenizer.test.ts
 * (built with wrangler.toml's [alias] and [build], run in workerd):
 *   GET  /?encoding=X        load X (the first time in this isolate) and count the bench's small
 *                            chat request, as the gateway's first chat request does: `{ tokens }`
 *   GET  /                   nothing: a bare request
 *   POST /encode?encoding=X  `{ texts }` → `{ ids, loaded }`: each text's ids, and the encodings this isolate has loaded
 * The bench copies it next to the old engine too, so `../../src/tokenize` is whichever engine is measured.
 */
export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const encoding = url.searchParams.get('encoding') as EncodingName | null;
    if (encoding === null) return new Response('ok');
    try {
      const counter = await loadCounter(encoding);
      if (url.pathname === '/encode') {
        const { texts } = (await request.json()) as { texts: string[] };
        const loaded = tokenizerStats().encodings.map((stats) => stats.encoding);
        return Response.json({ ids: texts.map((text) => counter.encode(text)), loaded });
      }
      return Response.json({ tokens: await countChatRequest(counter, FIRST_REQUEST, FIRST_REQUEST.model) });
    } catch (error) {
      return new Response(error instanceof Error ? error.message : String(error), { status: 500 });
    }
  },
};
