import { classAt, LETTER, NEWLINE, NUMBER, SPACE, widthAt } from './char-classes';

/**
 * Building blocks of the split scanners. Each one mirrors one regex fragment exactly as
 * tiktoken's backtracking regex resolves it, in a single forward pass (no re-scanning), so
 * splitting is linear in the input whatever the input.
 */

/** Finds the end of the next piece that starts at `start`; `start < text.length`. */
export type PieceScanner = (text: string, start: number) => number;

const APOSTROPHE = 0x27;

/** End of the maximal run of code points having any of `flags`, from `i`. */
export function runEnd(text: string, i: number, flags: number): number {
  const len = text.length;
  while (i < len && (classAt(text, i) & flags) !== 0) i += widthAt(text, i);
  return i;
}

/** End of a run of `[^\s\p{L}\p{N}]` from `i`. */
export function symbolRunEnd(text: string, i: number): number {
  const len = text.length;
  while (i < len && (classAt(text, i) & (LETTER | NUMBER | SPACE)) === 0) i += widthAt(text, i);
  return i;
}

/** `\p{N}{1,max}` from `i` (the caller checked the first one). */
export function numberRunEnd(text: string, i: number, max: number): number {
  const len = text.length;
  for (let n = 0; n < max && i < len && (classAt(text, i) & NUMBER) !== 0; n++) i += widthAt(text, i);
  return i;
}

/** `[\r\n]*` from `i`, or `[\r\n/]*` when `withSlash` (o200k). */
export function newlinesEnd(text: string, i: number, withSlash = false): number {
  const len = text.length;
  while (i < len) {
    const unit = text.charCodeAt(i);
    if (unit !== 0x0a && unit !== 0x0d && !(withSlash && unit === 0x2f)) break;
    i++;
  }
  return i;
}

/** True when the code point at `i` exists and is a symbol: `[^\s\p{L}\p{N}]`. */
export function isSymbolAt(text: string, i: number): boolean {
  return i < text.length && (classAt(text, i) & (LETTER | NUMBER | SPACE)) === 0;
}

/** True when the code point at `i` exists and has any of `flags`. */
export function hasClassAt(text: string, i: number, flags: number): boolean {
  return i < text.length && (classAt(text, i) & flags) !== 0;
}

/**
 * The whitespace alternatives at a whitespace code point:
 * `\s*[\r\n]+` (if `withNewlineRule`) | `\s+(?!\S)` | `\s+`.
 * All White_Space code points are in the BMP, so units and code points coincide here.
 */
export function whitespacePieceEnd(text: string, i: number, withNewlineRule: boolean): number {
  const len = text.length;
  let end = i;
  let lastNewline = -1;
  while (end < len) {
    const unit = text.charCodeAt(end);
    if ((classAt(text, end) & SPACE) === 0) break;
    if (unit === 0x0a || unit === 0x0d) lastNewline = end;
    end++;
  }
  // `\s*` backtracks to the last newline of the run, then `[\r\n]+` takes just that one.
  if (withNewlineRule && lastNewline >= 0) return lastNewline + 1;
  // `\s+(?!\S)` gives back the last whitespace so it can prefix the next word.
  if (end === len || end - i < 2) return end;
  return end - 1;
}

/**
 * `'s|'t|'re|'ve|'m|'ll|'d` at `i`, or -1. Case-insensitive as Rust's `(?i:…)` with Unicode
 * case folding, where `s` also matches U+017F (long s); no other letter here has extra folds.
 */
export function contractionEnd(text: string, i: number, caseInsensitive: boolean): number {
  if (text.charCodeAt(i) !== APOSTROPHE || i + 1 >= text.length) return -1;
  const fold = (unit: number) => (caseInsensitive ? foldAscii(unit) : unit);
  const first = fold(text.charCodeAt(i + 1));
  if (first === 0x73 || first === 0x74 || first === 0x6d || first === 0x64) return i + 2; // s t m d
  if (i + 2 >= text.length) return -1;
  const second = fold(text.charCodeAt(i + 2));
  if (first === 0x72 && second === 0x65) return i + 3; // re
  if (first === 0x76 && second === 0x65) return i + 3; // ve
  if (first === 0x6c && second === 0x6c) return i + 3; // ll
  return -1;
}

function foldAscii(unit: number): number {
  if (unit >= 0x41 && unit <= 0x5a) return unit + 0x20;
  if (unit === 0x17f) return 0x73;
  return unit;
}

/** `[^\r\n\p{L}\p{N}]` at `i`: anything but a letter, a number or a line break. */
export function isPrefixAt(text: string, i: number): boolean {
  return i < text.length && (classAt(text, i) & (LETTER | NUMBER | NEWLINE)) === 0;
}
