import type { Counter } from './counter';
import { INDENT_WIDTH, type JsonLayout, JsonRenderer, MAX_RENDER_DEPTH, type RenderedJson, renderJson, renderString } from './render-json';
import { yieldToEventLoop } from './yield';

/** Characters rendered per slice before yielding (a few ms at most). */
const RENDER_SLICE = 64 * 1024;
/** Texts counted between yields, so a million tiny parts cannot hold the loop either. */
const TEXTS_PER_SLICE = 512;

/**
 * What part of a prompt costs, gathered first and counted after: texts the template prints as
 * they are, values it dumps as JSON, tool-call arguments (printed as sent or parsed and dumped
 * again), and fixed tokens (overheads, image estimates).
 */
export class PromptCost {
  fixed = 0;
  readonly texts: string[] = [];
  readonly values: { value: unknown; param: string }[] = [];
  readonly arguments: { text: string; param: string }[] = [];
}

/** Counts a cost in slices that yield, so no part of it blocks the event loop for long. */
export async function countCost(counter: Counter, cost: PromptCost, layout: JsonLayout = 'indent'): Promise<number> {
  let tokens = cost.fixed;
  for (let i = 0; i < cost.texts.length; i++) {
    tokens += await counter.countAsync(cost.texts[i]!);
    if (i % TEXTS_PER_SLICE === TEXTS_PER_SLICE - 1) await yieldToEventLoop();
  }
  for (const { value, param } of cost.values) tokens += await countJson(counter, value, param, layout);
  for (let i = 0; i < cost.arguments.length; i++) {
    const { text, param } = cost.arguments[i]!;
    // JSON.parse is the one unsliced step (~5 ms a MB here, as the body's own parse was).
    const parsed = parseJson(text);
    const reRendered = parsed.ok ? await countRendered(counter, await renderSliced(parsed.value, param, layout)) : 0;
    tokens += Math.max(await counter.countAsync(renderString(text)), reRendered);
    if (i % TEXTS_PER_SLICE === TEXTS_PER_SLICE - 1) await yieldToEventLoop();
  }
  return tokens;
}

/** countCost in one go, for small inputs and sync callers. */
export function countCostSync(counter: Counter, cost: PromptCost, layout: JsonLayout = 'indent'): number {
  let tokens = cost.fixed;
  for (const text of cost.texts) tokens += counter.count(text);
  for (const { value, param } of cost.values) tokens += countRenderedSync(counter, renderJson(value, param, layout));
  for (const { text, param } of cost.arguments) {
    const parsed = parseJson(text);
    const reRendered = parsed.ok ? countRenderedSync(counter, renderJson(parsed.value, param, layout)) : 0;
    tokens += Math.max(counter.count(renderString(text)), reRendered);
  }
  return tokens;
}

/** Tokens of one value as the template dumps it (rendered in slices). */
export async function countJson(counter: Counter, value: unknown, param: string, layout: JsonLayout): Promise<number> {
  return countRendered(counter, await renderSliced(value, param, layout));
}

async function renderSliced(value: unknown, param: string, layout: JsonLayout): Promise<RenderedJson> {
  const renderer = new JsonRenderer(value, param, layout);
  while (!renderer.step(RENDER_SLICE)) await yieldToEventLoop();
  return renderer.result();
}

async function countRendered(counter: Counter, rendered: RenderedJson): Promise<number> {
  return (await counter.countAsync(rendered.text)) + indentationTokens(counter, rendered.linesAtDepth);
}

function countRenderedSync(counter: Counter, rendered: RenderedJson): number {
  return counter.count(rendered.text) + indentationTokens(counter, rendered.linesAtDepth);
}

/**
 * Tokens of the indentation runs the rendering shortened. A line at depth d starts with 4d
 * spaces: the last joins the next piece (` "key`, kept in the text), the rest is a run of its
 * own. Run costs are not monotone (127 spaces are 2 tokens in cl100k, 128 are 1), so each line
 * costs the widest run up to one level deeper.
 */
function indentationTokens(counter: Counter, linesAtDepth: number[]): number {
  let tokens = 0;
  linesAtDepth.forEach((lines, depth) => {
    tokens += lines * widestRunTokens(counter, depth * INDENT_WIDTH + INDENT_WIDTH - 1);
  });
  return tokens;
}

/** Per counter: widest[n] = the most tokens any run of at most n spaces costs. */
const widestRuns = new WeakMap<Counter, number[]>();

function widestRunTokens(counter: Counter, spaces: number): number {
  let widest = widestRuns.get(counter);
  if (!widest) {
    widest = [0];
    widestRuns.set(counter, widest);
  }
  const limit = Math.min(spaces, (MAX_RENDER_DEPTH + 1) * INDENT_WIDTH);
  for (let n = widest.length; n <= limit; n++) widest.push(Math.max(widest[n - 1]!, counter.count(' '.repeat(n))));
  return widest[limit]!;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
