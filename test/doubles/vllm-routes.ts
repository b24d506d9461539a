// The fake vLLM's endpoints: validate a request as vLLM does, plan what the model generates,
// then stream it or answer it whole once generation ends.
import type { Behavior, ReceivedRequest } from './behavior';
import {
  completionTokens,
  decodeSteps,
  type Generation,
  type Prompt,
  plan,
  reasoningTokens,
  type Script,
  type Sequence,
} from './generation';
import {
  chatPromptTokens,
  contextLengthMessage,
  embeddingInputs,
  embeddingLengthMessage,
  fakeEmbedding,
  modelList,
  newId,
  promptTokenCounts,
  unixNow,
  usage,
  vllmError,
} from './vllm-protocol';
import { streamGeneration, type UsageMode } from './vllm-stream';
import type { Wire } from './wire';

/** Served model name reported by /v1/models before any request names one. */
export const DEFAULT_MODEL = 'fake-model';

/** vLLM's CompletionRequest.max_tokens default; the fake still generates `completionTokens` (see Behavior). */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

export interface Exchange {
  wire: Wire;
  body: any;
  behavior: Behavior;
  record: ReceivedRequest;
  models: Set<string>;
  startedAt: number;
}

export const routes: Record<string, { method: string; answer: (ex: Exchange) => Promise<unknown> }> = {
  '/v1/chat/completions': { method: 'POST', answer: chatCompletions },
  '/v1/completions': { method: 'POST', answer: completions },
  '/v1/embeddings': { method: 'POST', answer: embeddings },
  '/v1/models': {
    method: 'GET',
    answer: async ({ wire, models, behavior, startedAt }) =>
      wire.json(200, modelList(models.size > 0 ? models : [DEFAULT_MODEL], behavior.maxModelLen, startedAt)),
  },
  '/health': { method: 'GET', answer: async ({ wire }) => wire.json(200, {}) },
};

async function chatCompletions(ex: Exchange) {
  const { body, behavior } = ex;
  if (!Array.isArray(body.messages) || body.messages.length === 0) return badRequest(ex, 'messages: a non-empty array is required');
  const invalid = samplingError(body);
  if (invalid) return badRequest(ex, invalid);
  const maxTokens = wholeNumber(body.max_completion_tokens) ?? wholeNumber(body.max_tokens);
  const promptTokens = chatPromptTokens(body.messages, body.tools);
  if (maxTokens === undefined ? promptTokens >= behavior.maxModelLen : promptTokens + maxTokens > behavior.maxModelLen) {
    return badRequest(ex, contextLengthMessage(behavior.maxModelLen, promptTokens, maxTokens));
  }
  // vLLM: no max tokens means the rest of the context window
  const prompt = { tokens: promptTokens, cap: maxTokens ?? behavior.maxModelLen - promptTokens };
  const n = body.n ?? 1;
  return generate(ex, plan('chat', modelName(body), [prompt], { returned: n, generated: n }, chatScript(body, behavior)));
}

async function completions(ex: Exchange) {
  const { body, behavior } = ex;
  const counts = promptTokenCounts(body.prompt);
  if (!counts) return badRequest(ex, 'prompt: a string, string[], number[] or number[][] is required');
  const invalid = samplingError(body);
  if (invalid) return badRequest(ex, invalid);
  const n: number = body.n ?? 1;
  const bestOf: number = body.best_of ?? n;
  if (!Number.isInteger(bestOf) || bestOf < n)
    return badRequest(ex, `best_of must be greater than or equal to n, got n=${n} and best_of=${bestOf}.`);
  const maxTokens = wholeNumber(body.max_tokens); // CompletionRequest has no max_completion_tokens
  const prompts: Prompt[] = [];
  for (const tokens of counts) {
    const checked = maxTokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS; // every prompt of a batch must fit
    if (tokens + checked > behavior.maxModelLen) return badRequest(ex, contextLengthMessage(behavior.maxModelLen, tokens, checked));
    prompts.push({ tokens, cap: maxTokens ?? behavior.maxModelLen - tokens });
  }
  const script: Script = { ...contentScript(behavior), reasoningTokens: 0 }; // vLLM runs no parsers on /v1/completions
  return generate(ex, plan('text', modelName(body), prompts, { returned: n, generated: Math.max(n, bestOf) }, script));
}

/** vLLM's request validation that the fake repeats: n, and stream_options only with stream. */
function samplingError(body: any): string | undefined {
  const n = body.n ?? 1;
  if (!Number.isInteger(n) || n < 1) return `n must be at least 1, got ${JSON.stringify(n)}.`;
  if (body.stream_options && body.stream !== true) return 'Stream options can only be defined when `stream=True`.';
  return undefined;
}

const contentScript = (behavior: Behavior): Script => ({
  word: behavior.word,
  contentTokens: behavior.completionTokens,
  reasoningTokens: behavior.reasoningTokens,
  reasoningField: behavior.reasoningField,
  toolFinish: 'tool_calls',
});

function chatScript(body: any, behavior: Behavior): Script {
  const base = contentScript(behavior);
  const tools: any[] = Array.isArray(body.tools) ? body.tools : [];
  // vLLM parses tool calls only when the request offers tools and tool_choice allows them
  if (!behavior.toolCalls || tools.length === 0 || body.tool_choice === 'none') return base;
  const named: string | undefined = body.tool_choice?.function?.name;
  const fallback = named ?? tools[0]?.function?.name ?? 'fake_tool';
  const toolCalls = behavior.toolCalls.map((call) => ({ name: named ?? call.name ?? fallback, arguments: call.arguments }));
  // OpenAI's rule, which vLLM follows: a named tool_choice finishes with 'stop'
  return { ...base, toolCalls, toolFinish: named ? 'stop' : 'tool_calls' };
}

async function generate(ex: Exchange, gen: Generation) {
  const { wire, body, behavior, record } = ex;
  if (body.stream === true) return streamGeneration(wire, gen, behavior, usageMode(body, behavior), record);
  // vLLM sends a whole answer only once generation ends: the head waits for every token
  for (const step of decodeSteps(gen)) {
    if (behavior.tokenMs > 0) await wire.sleep(step.pace * behavior.tokenMs);
    if (wire.gone) return; // the client left: vLLM aborts the request
    record.generatedTokens += step.generated;
  }
  const reported = usage(gen.promptTokens, completionTokens(gen), behavior.usageOverride, gen.reasons ? reasoningTokens(gen) : undefined);
  const answer = {
    id: gen.id,
    object: gen.kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: gen.created,
    model: gen.model,
    choices: gen.choices.map((choice) => answerChoice(gen, choice)),
    ...(!behavior.omitUsage && { usage: { ...reported, prompt_tokens_details: null } }),
  };
  if (await wire.json(200, answer)) record.sentTokens += completionTokens(gen);
}

function usageMode(body: any, behavior: Behavior): UsageMode {
  const override = behavior.usageOverride;
  if (behavior.omitUsage) return { final: false, perChunk: false, nullOnChunks: false };
  if (behavior.perChunkUsageOnly) return { final: false, perChunk: true, nullOnChunks: false, override };
  // vLLM's should_include_usage: continuous stats only together with include_usage
  const final = body.stream_options?.include_usage === true;
  const perChunk = final && body.stream_options?.continuous_usage_stats === true;
  return { final, perChunk, nullOnChunks: final && !perChunk, override };
}

function answerChoice(gen: Generation, choice: Sequence) {
  const end = { logprobs: null, finish_reason: choice.finishReason, stop_reason: null };
  const text = (kind: 'content' | 'reasoning') => choice.pieces.flatMap((piece) => (piece.kind === kind ? [piece.text] : [])).join('');
  if (gen.kind === 'text') return { index: choice.index, text: text('content'), ...end };
  const calls = new Map<number, { id: string; type: 'function'; function: { name: string; arguments: string } }>();
  for (const piece of choice.pieces) {
    if (piece.kind === 'tool-name')
      calls.set(piece.call, { id: piece.id, type: 'function', function: { name: piece.name, arguments: '' } });
    if (piece.kind === 'tool-arguments') calls.get(piece.call)!.function.arguments += piece.text;
  }
  const hasContent = choice.pieces.some((piece) => piece.kind === 'content');
  // a parser that found only reasoning or tool calls leaves content null
  const content = hasContent || (!gen.reasons && calls.size === 0) ? text('content') : null;
  const message = {
    role: 'assistant',
    content,
    ...(gen.reasons && { [gen.reasoningField]: text('reasoning') || null }),
    ...(calls.size > 0 && { tool_calls: [...calls.values()] }),
  };
  return { index: choice.index, message, ...end };
}

async function embeddings({ wire, body, behavior }: Exchange) {
  const inputs = embeddingInputs(body.input);
  if (!inputs) return wire.json(400, vllmError(400, 'input: a string, string[], number[] or number[][] is required'));
  const tooLong = inputs.find((input) => input.tokens > behavior.maxModelLen);
  if (tooLong) return wire.json(400, vllmError(400, embeddingLengthMessage(behavior.maxModelLen, tooLong.tokens)));
  const promptTokens = behavior.usageOverride?.prompt_tokens ?? inputs.reduce((sum, input) => sum + input.tokens, 0);
  return wire.json(200, {
    id: newId('embd'),
    object: 'list',
    created: unixNow(),
    model: modelName(body),
    data: inputs.map((input, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(input.key) })),
    ...(!behavior.omitUsage && { usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } }),
  });
}

const badRequest = (ex: Exchange, message: string) => ex.wire.json(400, vllmError(400, message));
const modelName = (body: any): string => (typeof body.model === 'string' ? body.model : DEFAULT_MODEL);
const wholeNumber = (value: unknown) => (Number.isInteger(value) && (value as number) >= 0 ? (value as number) : undefined);
