// Hostile requests for the billing invariant test: every trick of issue 9, and combinations,
// drawn from a seeded generator so a failing run can be replayed.
import type { Behavior } from '../../doubles/fake-vllm';

/** A small seeded generator (mulberry32): the same seed draws the same requests. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HostileRequest {
  kind: string;
  path: '/v1/chat/completions' | '/v1/completions';
  /** A JSON body, or raw text (a body too deep to build as a value). */
  body: Record<string, unknown> | string;
  headers: Record<string, string>;
  stream: boolean;
  /** The client hangs up: after this many tokens of a stream, or (0) as soon as the backend has a whole answer's request. */
  leaveAfter: number | null;
  /** Refused before anything is counted or reserved: a 400 with this code, and no ledger row. */
  refusedWith?: string;
  /** Refused while or after counting, before reserving: a 400 with this code, and a `rejected` row. */
  rejectedWith?: string;
}

const lorem = (words: number) => 'lorem '.repeat(words);
const user = (content: unknown) => [{ role: 'user', content }];

/** One hostile request; `i` makes its prompts differ from the others'. */
export function hostileRequest(random: () => number, i: number): HostileRequest {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const stream = random() < 0.6;
  const streamFields = stream
    ? { stream: true, stream_options: { include_usage: random() < 0.7, continuous_usage_stats: random() < 0.5 } }
    : {};
  const leaveAfter = random() < 0.3 ? (stream ? between(1, 15) : 0) : null;
  const base = { stream, leaveAfter, headers: {} as Record<string, string> };
  const chat = (kind: string, fields: Record<string, unknown>): HostileRequest => ({
    ...base,
    kind,
    path: '/v1/chat/completions',
    body: { model: 'gpt-4', max_tokens: between(5, 20), n: between(1, 4), ...streamFields, ...fields },
  });
  const completions = (kind: string, prompt: unknown): HostileRequest => {
    const n = between(1, 2);
    return {
      ...base,
      kind,
      path: '/v1/completions',
      body: { model: 'gpt-4', prompt, n, best_of: n + between(0, 1), max_tokens: between(5, 20), ...streamFields },
    };
  };
  const hiddenTool = () => [
    {
      type: 'function',
      function: {
        name: 'lookup',
        parameters: {
          type: 'object',
          $defs: { Place: { type: 'string', description: lorem(between(50, 300)) } },
          properties: {
            where: { $ref: '#/$defs/Place' },
            stops: { type: 'array', items: { type: 'string', description: lorem(between(50, 300)) } },
            unit: { type: 'string', default: lorem(between(10, 100)), examples: [lorem(between(10, 100))] },
          },
        },
      },
    },
  ];

  const roll = random();
  if (roll < 0.15)
    return completions(
      'batch of texts',
      Array.from({ length: between(2, 8) }, (_, p) => `batch ${i} prompt ${p}`),
    );
  if (roll < 0.25)
    return completions(
      'batch of token ids',
      Array.from({ length: between(2, 8) }, () => [15339, between(1, 5000)]),
    );
  if (roll < 0.45) return chat('choices', { n: between(1, 8), messages: user(`request ${i}: say something`) });
  if (roll < 0.55)
    return chat('hidden in tools', {
      messages: user(`request ${i}`),
      ...(random() < 0.5 ? { tools: hiddenTool() } : { tools: [], functions: [hiddenTool()[0]!.function] }),
    });
  if (roll < 0.63)
    return chat('documents and template arguments', {
      messages: user(`request ${i}`),
      documents: [{ title: 'guide', text: lorem(between(50, 500)) }],
      chat_template_kwargs: { system_prompt: lorem(between(10, 200)) },
    });
  if (roll < 0.66) return chat('routed to 32k', { messages: user(lorem(9000)), tools: hiddenTool() });
  if (roll < 0.71)
    return {
      ...chat('too long, policy reject', { messages: user(lorem(9000)) }),
      headers: { 'x-tollgate-context-policy': 'reject' },
      leaveAfter: null,
      rejectedWith: 'context_length_exceeded',
    };
  if (roll < 0.78) {
    const [field, value] = pick([
      ['chat_template', '{{ messages }}'],
      ['prompt_embeds', 'AAAA'],
      ['kv_transfer_params', { do_remote_decode: true }],
      ['mm_processor_kwargs', { max_pixels: 1e9 }],
      ['media_io_kwargs', { video: { num_frames: 1e6 } }],
      ['vllm_xargs', { x: 1 }],
      ['echo', true],
    ] as const);
    const request = field === 'echo' ? completions('echo', 'hello') : chat('refused field', { messages: user('hi') });
    return { ...request, body: { ...(request.body as object), [field]: value }, leaveAfter: null, refusedWith: 'unsupported_parameter' };
  }
  if (roll < 0.83) {
    const part = pick([
      { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
      { type: 'video_url', video_url: { url: 'https://example.com/v.mp4' } },
    ]);
    return {
      ...chat('audio or video', { messages: user([{ type: 'text', text: 'listen' }, part]) }),
      leaveAfter: null,
      rejectedWith: 'uncountable_input',
    };
  }
  if (roll < 0.85) {
    const deep = `${'{"a":'.repeat(70)}1${'}'.repeat(70)}`;
    return {
      ...base,
      kind: 'too deep',
      path: '/v1/chat/completions',
      body: `{"model":"gpt-4","messages":[{"role":"user","content":"hi","meta":${deep}}]}`,
      stream: false,
      leaveAfter: null,
      refusedWith: 'invalid_value',
    };
  }
  return chat('plain', { messages: user(`request ${i}: ${lorem(between(1, 40))}`), ...(random() < 0.3 ? { tools: hiddenTool() } : {}) });
}

/** What the fake backend does, phase by phase: honest, lying in every way, reasoning, tools, slow, broken. */
export const BACKEND_PHASES: [string, Partial<Behavior>][] = [
  ['honest', {}],
  ['usage 0/0', { usageOverride: { prompt_tokens: 0, completion_tokens: 0 } }],
  ['5,000 completion tokens', { usageOverride: { completion_tokens: 5000 } }],
  ['3e9 completion tokens', { usageOverride: { completion_tokens: 3e9, total_tokens: 3e9 } }],
  ['usage as strings', { usageOverride: { prompt_tokens: '12', completion_tokens: '10' } }],
  ['per-chunk usage only', { perChunkUsageOnly: true }],
  ['reasoning, no usage', { omitUsage: true, reasoningTokens: 10, reasoningField: 'reasoning' }],
  ['reasoning_content', { reasoningTokens: 8, reasoningField: 'reasoning_content' }],
  ['tool calls', { toolCalls: [{ arguments: JSON.stringify({ where: 'Paris', stops: ['a', 'b'], unit: 'metric' }) }] }],
  ['slow: heads come late', { tokenMs: 4 }],
  ['stream broken off', { fail: { kind: 'disconnect', afterChunks: 4 } }],
  ['past the deadline', { tokenMs: 150 }],
  ['honest, until the budget is gone', {}],
];
