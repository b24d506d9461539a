/**
 * Character classes as tiktoken's Rust regex (fancy-regex over the regex crate) sees them.
 * The split patterns are matched by hand-written scanners (see split-*.ts) instead of a JS
 * RegExp, so whitespace means Unicode White_Space (U+0085 yes, U+FEFF no) whatever V8 thinks.
 */

export const LETTER = 1; // \p{L}
export const NUMBER = 2; // \p{N}
export const SPACE = 4; // \s in Rust: the White_Space property
export const NEWLINE = 8; // [\r\n]
export const UPPERISH = 16; // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (o200k)
export const LOWERISH = 32; // [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k)
const KNOWN = 128;

/** Rust's `\s`: Unicode White_Space. JS `\s` adds U+FEFF and drops U+0085. */
const WHITE_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
  0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

const IS_LETTER = /^\p{L}$/u;
const IS_NUMBER = /^\p{N}$/u;
const IS_UPPERISH = /^[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]$/u;
const IS_LOWERISH = /^[\p{Ll}\p{Lm}\p{Lo}\p{M}]$/u;

// Filled lazily: one byte per code point ever seen (at most 1.1 MB, usually a few KB touched).
const table = new Uint8Array(0x110000);

function classify(cp: number): number {
  const ch = String.fromCodePoint(cp);
  let flags = KNOWN;
  if (IS_LETTER.test(ch)) flags |= LETTER;
  if (IS_NUMBER.test(ch)) flags |= NUMBER;
  if (WHITE_SPACE.has(cp)) flags |= SPACE;
  if (cp === 0x0a || cp === 0x0d) flags |= NEWLINE;
  if (IS_UPPERISH.test(ch)) flags |= UPPERISH;
  if (IS_LOWERISH.test(ch)) flags |= LOWERISH;
  return flags;
}

/** Class flags of a code point (lone surrogates arrive here as U+FFFD). */
export function classOf(cp: number): number {
  const known = table[cp]!;
  if (known !== 0) return known;
  const flags = classify(cp);
  table[cp] = flags;
  return flags;
}

/**
 * The code point at `i`, with lone surrogates read as U+FFFD: that is what reaches tiktoken's
 * Rust core once the string has been encoded as UTF-8 (and what a JSON body decodes to).
 */
export function codePointAt(text: string, i: number): number {
  const unit = text.charCodeAt(i);
  if (unit < 0xd800 || unit > 0xdfff) return unit;
  if (unit <= 0xdbff && i + 1 < text.length) {
    const low = text.charCodeAt(i + 1);
    if (low >= 0xdc00 && low <= 0xdfff) return ((unit - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
  }
  return 0xfffd;
}

// ASCII is most of most inputs: a fixed table, no surrogate or lazy-fill checks.
const ASCII_CLASSES = Uint8Array.from({ length: 128 }, (_, cp) => classify(cp));

/** Class flags of the code point at `i` (the caller checks `i < text.length`). */
export function classAt(text: string, i: number): number {
  const unit = text.charCodeAt(i);
  return unit < 128 ? ASCII_CLASSES[unit]! : classOf(codePointAt(text, i));
}

/** UTF-16 width of the code point at `i` (lone surrogates are one unit). */
export function widthAt(text: string, i: number): number {
  const unit = text.charCodeAt(i);
  if (unit < 0xd800 || unit > 0xdbff || i + 1 >= text.length) return 1;
  const low = text.charCodeAt(i + 1);
  return low >= 0xdc00 && low <= 0xdfff ? 2 : 1;
}

/** Bytes of the lazily filled class table that are in use (the whole table is reserved). */
export function charClassTableBytes(): number {
  return table.byteLength;
}
