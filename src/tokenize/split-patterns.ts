import { classAt, LETTER, LOWERISH, NUMBER, SPACE, UPPERISH, widthAt } from './char-classes';
import {
  contractionEnd,
  hasClassAt,
  isPrefixAt,
  isSymbolAt,
  newlinesEnd,
  numberRunEnd,
  type PieceScanner,
  runEnd,
  symbolRunEnd,
  whitespacePieceEnd,
} from './split-common';

/**
 * Hand-written equivalents of tiktoken's split patterns, alternative by alternative, in the
 * order the regex tries them. Each returns the end of the piece starting at `i`.
 */

/**
 * r50k/p50k/gpt2:
 * `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
 */
export const scanGpt2Piece: PieceScanner = (text, i) => {
  const contraction = contractionEnd(text, i, false);
  if (contraction >= 0) return contraction;
  const body = text.charCodeAt(i) === 0x20 && i + 1 < text.length && (classAt(text, i + 1) & SPACE) === 0 ? i + 1 : i;
  const flags = classAt(text, body);
  if (flags & LETTER) return runEnd(text, body, LETTER);
  if (flags & NUMBER) return runEnd(text, body, NUMBER);
  if ((flags & SPACE) === 0) return symbolRunEnd(text, body);
  return whitespacePieceEnd(text, i, false);
};

/**
 * cl100k_base:
 * `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
 */
export const scanCl100kPiece: PieceScanner = (text, i) => {
  const contraction = contractionEnd(text, i, true);
  if (contraction >= 0) return contraction;
  const flags = classAt(text, i);
  if (flags & LETTER) return runEnd(text, i, LETTER);
  if (isPrefixAt(text, i)) {
    const next = i + widthAt(text, i);
    if (hasClassAt(text, next, LETTER)) return runEnd(text, next, LETTER);
  }
  if (flags & NUMBER) return numberRunEnd(text, i, 3);
  const symbols = text.charCodeAt(i) === 0x20 && isSymbolAt(text, i + 1) ? i + 1 : i;
  if (isSymbolAt(text, symbols)) return newlinesEnd(text, symbolRunEnd(text, symbols));
  return whitespacePieceEnd(text, i, true);
};

/**
 * o200k_base:
 * `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|…)?`
 * `|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|…)?`
 * `|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
 */
export const scanO200kPiece: PieceScanner = (text, i) => {
  const flags = classAt(text, i);
  const prefixed = isPrefixAt(text, i) ? i + widthAt(text, i) : -1;
  // Both word alternatives need a cased letter or mark at i or right after the prefix.
  if ((flags & WORD) !== 0 || (prefixed >= 0 && hasClassAt(text, prefixed, WORD))) {
    let end = prefixed >= 0 ? casedWordEnd(text, prefixed) : -1;
    if (end < 0) end = casedWordEnd(text, i);
    if (end < 0 && prefixed >= 0) end = capitalizedWordEnd(text, prefixed);
    if (end < 0) end = capitalizedWordEnd(text, i);
    if (end >= 0) return withContraction(text, end);
  }
  if (flags & NUMBER) return numberRunEnd(text, i, 3);
  const symbols = text.charCodeAt(i) === 0x20 && isSymbolAt(text, i + 1) ? i + 1 : i;
  // `[\r\n/]*`: slashes right after the run are symbols already, but "/" after a line break is not.
  if (isSymbolAt(text, symbols)) return newlinesEnd(text, symbolRunEnd(text, symbols), true);
  return whitespacePieceEnd(text, i, true);
};

const WORD = UPPERISH | LOWERISH;

/**
 * `[UPPERISH]*[LOWERISH]+` from `p`, resolved as the backtracking engine would: if the
 * upper run is followed by a lower letter, the lower run continues from there; otherwise
 * the upper run backs off to its last code point that is also LOWERISH (Lm, Lo, M).
 */
function casedWordEnd(text: string, p: number): number {
  const len = text.length;
  let j = p;
  let lastBothEnd = -1;
  while (j < len) {
    const flags = classAt(text, j);
    if ((flags & UPPERISH) === 0) break;
    j += widthAt(text, j);
    if (flags & LOWERISH) lastBothEnd = j;
  }
  if (hasClassAt(text, j, LOWERISH)) return runEnd(text, j, LOWERISH);
  return lastBothEnd;
}

/** `[UPPERISH]+[LOWERISH]*` from `p`, or -1. */
function capitalizedWordEnd(text: string, p: number): number {
  if (!hasClassAt(text, p, UPPERISH)) return -1;
  return runEnd(text, runEnd(text, p, UPPERISH), LOWERISH);
}

function withContraction(text: string, end: number): number {
  const contraction = end < text.length ? contractionEnd(text, end, true) : -1;
  return contraction >= 0 ? contraction : end;
}
