/**
 * UTF-8 of a piece as single-byte token ids, written straight from the UTF-16 text. Lone
 * surrogates become U+FFFD's bytes, as they do when a JS string reaches tiktoken's core.
 */

/** Writes the byte-token ids of text[start, end) into `out` (≥ 3 slots per unit); returns the count. */
export function writeByteIds(text: string, start: number, end: number, byteIds: Int32Array, out: Int32Array): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    let cp = text.charCodeAt(i);
    if (cp < 0x80) {
      out[n++] = byteIds[cp]!;
      continue;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const low = i + 1 < end ? text.charCodeAt(i + 1) : 0;
      if (cp <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        cp = ((cp - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
        i++;
      } else {
        cp = 0xfffd;
      }
    }
    if (cp < 0x800) {
      out[n++] = byteIds[0xc0 | (cp >> 6)]!;
      out[n++] = byteIds[0x80 | (cp & 0x3f)]!;
    } else if (cp < 0x10000) {
      out[n++] = byteIds[0xe0 | (cp >> 12)]!;
      out[n++] = byteIds[0x80 | ((cp >> 6) & 0x3f)]!;
      out[n++] = byteIds[0x80 | (cp & 0x3f)]!;
    } else {
      out[n++] = byteIds[0xf0 | (cp >> 18)]!;
      out[n++] = byteIds[0x80 | ((cp >> 12) & 0x3f)]!;
      out[n++] = byteIds[0x80 | ((cp >> 6) & 0x3f)]!;
      out[n++] = byteIds[0x80 | (cp & 0x3f)]!;
    }
  }
  return n;
}

export const ASCII = 0;
export const NON_ASCII = 1;
export const LONE_SURROGATE = 2;

/** What one pass over a piece learns; reused, so scanning allocates nothing. */
export const fingerprint = { hash: 0, kind: ASCII };

/**
 * One pass over a piece: its kind (ASCII, other well-formed text, or with a lone surrogate)
 * and a polynomial hash of its UTF-16 units, which for ASCII is the hash of its bytes that
 * PairRanks indexes tokens by (see PIECE_HASH_BASE there).
 */
export function takeFingerprint(text: string, start: number, end: number): typeof fingerprint {
  let kind = ASCII;
  let hash = 0;
  for (let i = start; i < end; i++) {
    const unit = text.charCodeAt(i);
    // Kept to 30 bits so it stays a small integer (no heap number per piece); still a ring hash mod 2^30.
    hash = (Math.imul(hash, 0x01000193) + unit) & 0x3fffffff;
    if (unit < 0x80) continue;
    if (kind === ASCII) kind = NON_ASCII;
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const low = i + 1 < end ? text.charCodeAt(i + 1) : 0;
    if (unit > 0xdbff || low < 0xdc00 || low > 0xdfff) kind = LONE_SURROGATE;
  }
  fingerprint.hash = hash;
  fingerprint.kind = kind;
  return fingerprint;
}

/** The piece as tiktoken's core receives it: lone surrogates replaced by U+FFFD. */
export function wellFormed(piece: string): string {
  return piece.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
