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

  /** A whole JSON answer; resolves true once all of it was handed to the socket. */
  json(status: number, body: unknown, headers: Record<string, string> = {}): Promise<boolean> {
    if (this.gone) return Promise.resolve(false);
    const text = JSON.stringify(body);
    this.res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
    if (this.cutAfter === undefined) return this.until(new Promise<boolean>((resolve) => this.res.end(text, () => resolve(true))), false);
    // An injected disconnect: the head and half the body, then the connection drops.
    this.res.write(text.slice(0, text.length >> 1));
    void this.sleep(5).then(() => this.destroy());
    return Promise.resolve(false);
  }

  /** Send the head now, so the client sees it before the first event. */
  head(headers: Record<string, string>): void {
    if (this.gone) return;
    this.res.writeHead(200, headers);
    this.res.flushHeaders();
  }

  /** One `data:` event; with splitWrites, in 2 or 3 writes cut mid-line, a tick apart. Resolves true once all of it was written. */
  async event(data: string): Promise<boolean> {
    const text = `data: ${data}\n\n`;
    const parts = this.pacing.splitWrites ? splitMidLine(text, this.eventsSent % 2 === 0 ? 2 : 3) : [text];
    let written = true;
    for (const [i, part] of parts.entries()) {
      if (i > 0) await this.sleep(1); // a pause, so the parts leave as separate TCP segments
      written = (await this.send(part)) && written;
    }
    this.eventsSent++;
    if (this.cutAfter !== undefined && this.eventsSent >= this.cutAfter) this.destroy();
    return written;
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
    return this.until(new Promise<void>((resolve) => setTimeout(resolve, ms)));
  }

  /** Wait for `signal`; if the connection closes first, settle with `closedValue` instead. */
  until<T = void>(signal: Promise<T>, closedValue?: T): Promise<T> {
    return Promise.race([signal, this.closed.then(() => closedValue as T)]);
  }

  private send(text: string): Promise<boolean> {
    if (this.gone) return Promise.resolve(false);
    // resolve once flushed to the socket, so a following destroy() cannot drop it
    return this.until(new Promise<boolean>((resolve) => this.res.write(text, (err) => resolve(!err))), false);
  }
}

function splitMidLine(text: string, parts: number): string[] {
  const cuts = Array.from({ length: parts - 1 }, (_, i) => Math.floor((text.length * (i + 1)) / parts));
  return [0, ...cuts].map((start, i) => text.slice(start, cuts[i] ?? text.length));
}
