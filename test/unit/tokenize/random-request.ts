/**
 * Seeded random chat requests full of what breaks naive counts: quotes and backslashes to
 * escape, HTML-unsafe characters, control characters, runs of spaces and newlines, non-ASCII
 * and astral characters, special-token markers, numbers of every magnitude, nesting.
 */
const PIECES = [
  'a',
  'Zq',
  'é',
  '北京',
  '😀',
  ' ',
  '    ',
  '\n',
  '\n\n',
  '\t',
  '"',
  '\\',
  '<',
  '>',
  '&',
  "'",
  '{',
  '}',
  '[',
  ']',
  ':',
  ',',
  '0',
  '73',
  '.',
  '-',
  '\u0001',
  '\u2028',
  '<|im_sep|>',
  'word',
  ' the',
];
const NUMBERS = [0, 1, -1, 42, 0.5, 1500, 1.0842, 1e-5, -3.25e-9, 123456789, 2 ** 53, 1e21, 7.5e300];

export function randomRequest(seed: number): Record<string, unknown> {
  let state = seed * 2654435761;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const text = (max: number) => Array.from({ length: 1 + next(max) }, () => PIECES[next(PIECES.length)]).join('');
  const value = (depth: number): unknown => {
    const pick = next(depth > 4 ? 4 : 7);
    if (pick === 0) return text(12);
    if (pick === 1) return NUMBERS[next(NUMBERS.length)];
    if (pick === 2) return next(2) === 0;
    if (pick === 3) return null;
    if (pick === 4) return Array.from({ length: next(5) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: 1 + next(4) }, () => [`k_${text(3)}`, value(depth + 1)]));
  };
  const tool = () => ({
    type: 'function',
    function: { name: `f_${next(1000)}`, description: text(20), parameters: { type: 'object', properties: { a: value(1), b: value(1) } } },
  });
  const args = () => JSON.stringify({ x: value(2), y: value(2) });
  const messages: Record<string, unknown>[] = [{ role: 'user', content: text(30) }];
  if (next(2) === 0) {
    messages.push({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: `call_${next(99)}`, type: 'function', function: { name: 'f', arguments: args() } }],
    });
    messages.push({ role: 'tool', tool_call_id: `call_${next(99)}`, content: text(20) });
  }
  messages.push({ role: 'user', content: [{ type: 'text', text: text(10) }] });
  return {
    messages,
    tools: Array.from({ length: next(3) }, tool),
    documents: next(2) === 0 ? [{ title: text(4), text: text(40) }] : undefined,
    chat_template_kwargs: next(2) === 0 ? { system_instructions: text(20), persona: value(1) } : undefined,
  };
}
