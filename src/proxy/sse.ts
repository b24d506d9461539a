/** One server-sent event as it arrived: its raw text (without the blank line) and its data. */
export interface SseEvent {
  raw: string;
  data: string | null;
}

/**
 * Splits a byte stream into server-sent events incrementally. Events may arrive split across
 * network reads at any byte, including inside a multi-byte character; only complete events are
 * returned.
 */
export class SseSplitter {
  private readonly decoder = new TextDecoder();
  private pending = '';

  push(bytes: Uint8Array): SseEvent[] {
    this.pending += this.decoder.decode(bytes, { stream: true });
    return this.drain(false);
  }

  /** Whatever is left at the end of the stream (a last event with no blank line after it). */
  end(): SseEvent[] {
    this.pending += this.decoder.decode();
    return this.drain(true);
  }

  private drain(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.pending.includes('\r')) this.pending = this.pending.replace(/\r\n?/g, '\n');
    let start = 0;
    for (let end = this.pending.indexOf('\n\n'); end !== -1; end = this.pending.indexOf('\n\n', start)) {
      const raw = this.pending.slice(start, end);
      start = end + 2;
      if (raw.length > 0) events.push(parseEvent(raw));
    }
    this.pending = this.pending.slice(start);
    if (final && this.pending.trim().length > 0) {
      events.push(parseEvent(this.pending.replace(/\n+$/, '')));
      this.pending = '';
    }
    return events;
  }
}

function parseEvent(raw: string): SseEvent {
  let data: string | null = null;
  for (const line of raw.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    data = data === null ? value : `${data}\n${value}`;
  }
  return { raw, data };
}
