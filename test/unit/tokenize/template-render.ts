import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import type { Counter } from '../../../src/tokenize';

const FIXTURES = new URL('../../fixtures/chat-templates/', import.meta.url);

/** One of our reference templates (test/fixtures/chat-templates), compiled. */
export function loadTemplate(name: string): Template {
  return new Template(readFileSync(new URL(`${name}.jinja`, FIXTURES), 'utf8'));
}

/**
 * Renders a chat request body the way vLLM does: tool-call arguments parsed into objects
 * before the template sees them, `chat_template_kwargs` spread into the template's variables.
 */
export function renderRequest(template: Template, body: Record<string, unknown>): string {
  const messages = (body.messages as Record<string, unknown>[]).map((message) => {
    if (!Array.isArray(message.tool_calls)) return message;
    const toolCalls = (message.tool_calls as { function: { name: string; arguments: string } }[]).map((call) => ({
      ...call,
      function: { ...call.function, arguments: JSON.parse(call.function.arguments) as unknown },
    }));
    return { ...message, tool_calls: toolCalls };
  });
  const kwargs = (body.chat_template_kwargs ?? {}) as Record<string, unknown>;
  return template.render({ ...body, messages, add_generation_prompt: true, ...kwargs });
}

const SPECIAL = /<\|[a-z_]+\|>/g;

/** Tokens of a rendered prompt: each `<|marker|>` is one special token, the text between is counted. */
export function countRendered(counter: Counter, rendered: string): number {
  const specials = rendered.match(SPECIAL)?.length ?? 0;
  return rendered.split(SPECIAL).reduce((sum, text) => sum + counter.count(text), specials);
}
