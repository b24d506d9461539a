// Talking to a fake vLLM over real HTTP from unit tests: POST, SSE reading, waiting for a condition.
import { expect } from 'vitest';
import type { FakeVllm } from '../../doubles/fake-vllm';

/** POST JSON (or a raw string) to `path` under the fake's /v1. */
export function post(vllm: FakeVllm, path: string, body: unknown, init: RequestInit = {}) {
  return fetch(`${vllm.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-upstream' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

/** Reads SSE `data:` payloads as they arrive; `next()` resolves with the next one. */
export function sseReader(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<string | undefined> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          expect(event.startsWith('data: ')).toBe(true);
          return event.slice('data: '.length);
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffer += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

export async function allEvents(res: Response): Promise<string[]> {
  const sse = sseReader(res);
  const events: string[] = [];
  for (let e = await sse.next(); e !== undefined; e = await sse.next()) events.push(e);
  return events;
}

/** Every chunk of a stream, parsed, without the closing [DONE] (which it checks is there). */
export async function allChunks(res: Response): Promise<any[]> {
  const events = await allEvents(res);
  expect(events.at(-1)).toBe('[DONE]');
  return events.slice(0, -1).map((e) => JSON.parse(e));
}

/** Poll until `check()` holds: waiting for an event the fake only shows through its state. */
export async function until(check: () => boolean, timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const chat = (extra: Record<string, unknown> = {}) => ({
  model: 'llama',
  messages: [{ role: 'user', content: 'Hello there' }],
  ...extra,
});
