// The fake backend's side of one HTTP exchange: JSON answers, SSE events (optionally split
// across TCP writes), injected disconnects, and noticing when the client goes away.
import type { ServerResponse } from 'node:http';

export class Wire {
  /** Destroy the socket right after this many SSE events, or halfway through a JSON body (an injected disconnect). */
  cutAfter: number | undefined;
  /** Settles when the connection closes, for whatever reason. */
  readonly closed: Promise<void>;
  private eventsSent = 0;
  private isClosed = false;
  private destroyedByUs = false;

  constructor(
    private readonly res: ServerResponse,
    onClientAbort: () => void,
    private readonly pacing: { splitWrites: boolean },
  ) {
    this.closed = new Promise((resolve) => {
      res.once('close', () => {
        this.isClosed = true;
        if (!res.writableEnded && !this.destroyedByUs) onClientAbort();
        resolve();
      });
    });
  }

  /** Nothing more can or should be written. */
  get gone(): boolean {
    return this.isClosed || this.res.writableEnded;
  }

  json(status: number, body: unknown): void {
    if (this.gone) return;
    const text = JSON.stringify(body);
    this.res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    if (this.cutAfter === undefined) return void this.res.end(text);
    // An injected disconnect: the head and half the body, then the connection drops.
    this.res.write(text.slice(0, text.length >> 1));
    void this.sleep(5).then(() => this.destroy());
  }

  /** Send the head now, so the client sees it before the first event. */
  head(headers: Record<string, string>): void {
    if (this.gone) return;
    this.res.writeHead(200, headers);
    this.res.flushHeaders();
  }

  /** One `data:` event; with splitWrites, in 2 or 3 writes cut mid-line, a tick apart. */
  async event(data: string): Promise<void> {
    const text = `data: ${data}\n\n`;
    const parts = this.pacing.splitWrites ? splitMidLine(text, this.eventsSent % 2 === 0 ? 2 : 3) : [text];
    for (const [i, part] of parts.entries()) {
      if (i > 0) await this.sleep(1); // a pause, so the parts leave as separate TCP segments
      await this.send(part);
    }
    this.eventsSent++;
    if (this.cutAfter !== undefined && this.eventsSent >= this.cutAfter) this.destroy();
  }

  end(): void {
    if (!this.gone) this.res.end();
  }

  /** Drop the connection without an answer (not counted as a client abort). */
  destroy(): void {
    this.destroyedByUs = true;
    this.res.destroy();
  }

  /** Wait `ms`, cut short if the connection closes. */
  sleep(ms: number): Promise<void> {
    return this.until(new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Wait for `signal`, cut short if the connection closes. */
  until(signal: Promise<unknown>): Promise<void> {
    return Promise.race([signal, this.closed]).then(() => undefined);
  }

  private send(text: string): Promise<void> {
    if (this.gone) return Promise.resolve();
    // resolve once flushed to the socket, so a following destroy() cannot drop it
    return this.until(new Promise<void>((resolve) => this.res.write(text, () => resolve())));
  }
}

function splitMidLine(text: string, parts: number): string[] {
  const cuts = Array.from({ length: parts - 1 }, (_, i) => Math.floor((text.length * (i + 1)) / parts));
  return [0, ...cuts].map((start, i) => text.slice(start, cuts[i] ?? text.length));
}
