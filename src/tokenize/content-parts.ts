import { describeValue, uncountable } from './errors';
import type { PromptCost } from './prompt-cost';

/** Published estimate for an image part: 85 tokens at low detail, a 1024×1024 high-detail image otherwise. */
export const IMAGE_TOKENS_LOW = 85;
export const IMAGE_TOKENS_HIGH = 765;

/**
 * Adds a message's `content` to its cost. Part types are an allowlist: a template prints the
 * text of `text`, `input_text` and `refusal` parts, and an image costs the published estimate.
 * Anything else (audio, video, files, embeddings, types we have never seen) and malformed parts
 * are refused: counting them as zero would let any amount of input past the budget.
 */
export function addContentCost(cost: PromptCost, content: unknown, param: string): void {
  if (typeof content === 'string') cost.texts.push(content);
  else if (Array.isArray(content)) {
    for (const [i, part] of content.entries()) addPartCost(cost, part, `${param}[${i}]`);
  } else if (content !== null && content !== undefined)
    throw uncountable(param, `${describeValue(content)}, not text or a list of content parts`);
}

function addPartCost(cost: PromptCost, part: unknown, param: string): void {
  // vLLM reads a bare string in a parts list as a text part.
  if (typeof part === 'string') return void cost.texts.push(part);
  if (typeof part !== 'object' || part === null || Array.isArray(part)) {
    throw uncountable(param, `${describeValue(part)}, not a content part`);
  }
  const fields = part as Record<string, unknown>;
  switch (fields.type) {
    case 'text':
    case 'input_text':
      return void cost.texts.push(textField(fields, 'text', param));
    case 'refusal':
      return void cost.texts.push(textField(fields, 'refusal', param));
    case 'image_url':
      cost.fixed += imageDetail(fields.image_url, `${param}.image_url`) === 'low' ? IMAGE_TOKENS_LOW : IMAGE_TOKENS_HIGH;
      return;
    default:
      throw uncountable(param, typeof fields.type === 'string' ? `a part of type '${fields.type}'` : 'a content part without a type');
  }
}

function textField(part: Record<string, unknown>, field: string, param: string): string {
  const text = part[field];
  if (typeof text !== 'string') throw uncountable(`${param}.${field}`, `${describeValue(text)}, not text`);
  return text;
}

/** An image's detail; the part must carry a url (as `{ url }` or, leniently, a bare string). */
function imageDetail(image: unknown, param: string): unknown {
  if (typeof image === 'string') return undefined;
  if (typeof image === 'object' && image !== null && typeof (image as Record<string, unknown>).url === 'string') {
    return (image as Record<string, unknown>).detail;
  }
  throw uncountable(param, `${describeValue(image)}, not an image url`);
}
