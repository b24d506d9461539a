import { uncountable } from './errors';

/**
 * A JSON value (a tool schema, documents, template arguments) rendered the way the most generous
 * of the common chat templates dumps it, so its token count bounds theirs from above:
 *
 * - `tojson(indent=4)` layout (Llama 3.x): one entry per line, `,` and `": "` separators. It costs
 *   at least what the compact layouts cost (`", "` and `": "` of Python's json.dumps, as Qwen-
 *   and Hermes-style templates print tools; `,` `:` in Go and serde): each separator there is at
 *   most a token and a space, here a `,\n` piece plus an indentation run.
 * - Indentation is counted apart (see `linesAtDepth`) at the widest run up to one level deeper,
 *   which covers templates that dump the whole list (`tools | tojson(indent=4)`) and 2-space
 *   indents, and keeps a deeply nested body from materialising megabytes of spaces.
 * - Strings escaped as JSON, plus the HTML-safe escapes `<>&'` → `\u003c`… of minijinja (TGI)
 *   and Go's encoder (Ollama), and `\u2028`/`\u2029`. Non-ASCII stays raw (`ensure_ascii=False`,
 *   as transformers' tojson, serde and Go print it; a template asking for ASCII escapes is not
 *   covered).
 * - Numbers as Python prints them (vLLM and SGLang parse the body in Python): an integral value
 *   may have been `1.0` in the body, so `1.0`; tiny ones `1.5e-05`; integers from 1e16 up with
 *   every digit (a Python int keeps the literal's digits, which the double's magnitude tells).
 */
export interface RenderedJson {
  /** The rendered text, with every line's indentation shortened to one space (none at depth 0). */
  text: string;
  /** How many lines start at each depth; their indentation runs are counted apart. */
  linesAtDepth: number[];
}

/**
 * `indent` (the default) bounds every common template; `compact` (`", "` and `": "`, one line,
 * as Qwen- and Hermes-style templates dump tools) is tighter, for an operator who knows the
 * model's template dumps JSON that way.
 */
export type JsonLayout = 'indent' | 'compact';

/** Deeper values are refused (the gateway rejects bodies past 64 levels before counting). */
export const MAX_RENDER_DEPTH = 256;
/** Indentation of one depth level, as `tojson(indent=4)` prints it. */
export const INDENT_WIDTH = 4;

interface Frame {
  readonly container: Record<string, unknown> | unknown[];
  /** Object keys in order; null for arrays. */
  readonly keys: string[] | null;
  index: number;
  readonly depth: number;
}

/**
 * Renders one value iteratively (an explicit stack, so no input depth can overflow ours), in
 * steps of bounded work so a multi-megabyte schema can be rendered between event-loop turns.
 */
export class JsonRenderer {
  /** This step's pieces, joined into `chunks` at its end so no single join is huge. */
  private out: string[] = [];
  private readonly chunks: string[] = [];
  private readonly stack: Frame[] = [];
  private readonly linesAtDepth: number[] = [];

  constructor(
    value: unknown,
    private readonly param: string,
    private readonly layout: JsonLayout = 'indent',
  ) {
    this.open(value, 0);
  }

  /** Renders about `work` characters' worth; true when the whole value is rendered. */
  step(work: number): boolean {
    let done = 0;
    while (done < work && this.stack.length > 0) {
      const frame = this.stack[this.stack.length - 1]!;
      const size = frame.keys ? frame.keys.length : (frame.container as unknown[]).length;
      if (frame.index === size) {
        this.stack.pop();
        this.push(`${this.newline(frame.depth)}${frame.keys ? '}' : ']'}`);
        done += 8;
        continue;
      }
      const depth = frame.depth + 1;
      let line = `${frame.index > 0 ? this.separator : ''}${this.newline(depth)}`;
      let child: unknown;
      if (frame.keys) {
        const key = frame.keys[frame.index]!;
        line += `${renderString(key)}: `;
        child = (frame.container as Record<string, unknown>)[key];
      } else child = (frame.container as unknown[])[frame.index];
      frame.index++;
      this.push(line);
      done += line.length + this.open(child, depth);
    }
    this.chunks.push(this.out.join(''));
    this.out = [];
    return this.stack.length === 0;
  }

  result(): RenderedJson {
    return { text: this.chunks.join(''), linesAtDepth: this.linesAtDepth };
  }

  /** Emits a scalar or an empty container, or opens a frame; returns the characters emitted. */
  private open(value: unknown, depth: number): number {
    if (Array.isArray(value) || isObject(value)) {
      const keys = Array.isArray(value) ? null : Object.keys(value).filter((key) => isJsonValue(value[key]));
      const empty = keys ? keys.length === 0 : (value as unknown[]).length === 0;
      if (empty) return this.push(keys ? '{}' : '[]');
      if (depth >= MAX_RENDER_DEPTH) throw uncountable(this.path(), `nested more than ${MAX_RENDER_DEPTH} levels deep`);
      this.stack.push({ container: value, keys, index: 0, depth });
      return this.push(keys ? '{' : '[');
    }
    return this.push(this.scalar(value));
  }

  private scalar(value: unknown): string {
    if (typeof value === 'string') return renderString(value);
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw uncountable(this.path(), 'a number beyond the double range');
      return renderNumber(value);
    }
    if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
    return 'null'; // null; undefined and functions in arrays, as JSON.stringify prints them
  }

  private get separator(): string {
    return this.layout === 'indent' ? ',' : ', ';
  }

  /** A line break and the line's indentation, shortened to one space and tallied by depth. */
  private newline(depth: number): string {
    if (this.layout === 'compact') return '';
    this.linesAtDepth[depth] = (this.linesAtDepth[depth] ?? 0) + 1;
    return depth === 0 ? '\n' : '\n ';
  }

  private push(text: string): number {
    this.out.push(text);
    return text.length;
  }

  /** Where the renderer is, OpenAI-style (`tools[0].function.parameters.enum[3]`). */
  private path(): string {
    let path = this.param;
    for (const frame of this.stack) {
      const at = frame.index - 1;
      path += frame.keys ? `.${frame.keys[at]}` : `[${at}]`;
    }
    return path;
  }
}

/** Renders a value in one go (small values, sync callers). */
export function renderJson(value: unknown, param: string, layout: JsonLayout = 'indent'): RenderedJson {
  const renderer = new JsonRenderer(value, param, layout);
  renderer.step(Number.POSITIVE_INFINITY);
  return renderer.result();
}

const HTML_UNSAFE = /[<>&'\u2028\u2029]/;
const HTML_UNSAFE_ALL = /[<>&'\u2028\u2029]/g;

/** A JSON string literal with the HTML-safe escapes some template engines add. */
export function renderString(text: string): string {
  const json = JSON.stringify(text);
  if (!HTML_UNSAFE.test(json)) return json;
  return json.replace(HTML_UNSAFE_ALL, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A finite number as Python's json.dumps prints what the body's literal may have been. */
export function renderNumber(value: number): string {
  if (Number.isInteger(value)) {
    if (Math.abs(value) >= 1e16) return BigInt(value).toString();
    return Object.is(value, -0) ? '-0.0' : `${value}.0`;
  }
  if (Math.abs(value) < 1e-4) {
    const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
    const power = Number(exponent);
    return `${mantissa}e${power < 0 ? '-' : '+'}${String(Math.abs(power)).padStart(2, '0')}`;
  }
  return String(value); // shortest round-trip digits, positional: the same as Python's repr here
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Object members JSON.stringify would print (undefined, functions and symbols are skipped). */
function isJsonValue(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}
