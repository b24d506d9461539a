/**
 * Waiting requests, fair between keys: each key's requests wait in arrival order, and keys take
 * turns, so a key with a hundred requests waiting holds up another key's one request by at most
 * one of its own.
 *
 * @example
 * const queue = new FairQueue<{ key: string }>();
 * queue.push({ key: 'noisy' }); queue.push({ key: 'noisy' }); queue.push({ key: 'quiet' });
 * queue.serve(() => true); // noisy's first
 * queue.serve(() => true); // quiet's, before noisy's second
 */
export class FairQueue<T extends { readonly key: string }> {
  readonly #byKey = new Map<string, T[]>();
  /** Keys with requests waiting, in turn order; `#turn` is the index of the key to serve next. */
  readonly #ring: string[] = [];
  #turn = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    const waiting = this.#byKey.get(item.key);
    if (waiting) waiting.push(item);
    else {
      this.#byKey.set(item.key, [item]);
      // A key new to the queue takes its turn after the keys already waiting.
      this.#ring.splice(this.#turn, 0, item.key);
      this.#turn = (this.#turn + 1) % this.#ring.length;
    }
    this.#size++;
  }

  /** Takes `item` out (it gave up waiting); false when it was not waiting. */
  remove(item: T): boolean {
    const waiting = this.#byKey.get(item.key);
    const index = waiting?.indexOf(item) ?? -1;
    if (index < 0) return false;
    waiting!.splice(index, 1);
    this.#size--;
    if (waiting!.length === 0) this.#dropKey(this.#ring.indexOf(item.key));
    return true;
  }

  /**
   * Offers the head request of each key, in turn order, to `start` until it takes one; that
   * request leaves the queue and its key's turn is used. Null when `start` took none.
   */
  serve(start: (item: T) => boolean): T | null {
    const keys = this.#ring.length;
    for (let offset = 0; offset < keys; offset++) {
      const index = (this.#turn + offset) % keys;
      const waiting = this.#byKey.get(this.#ring[index]!)!;
      const head = waiting[0]!;
      if (!start(head)) continue;
      waiting.shift();
      this.#size--;
      if (waiting.length > 0) this.#turn = (index + 1) % keys;
      else {
        this.#dropKey(index);
        // The key after it slid into its place: that key's turn is next.
        this.#turn = this.#ring.length === 0 ? 0 : index % this.#ring.length;
      }
      return head;
    }
    return null;
  }

  /** Drops a key with nothing waiting; the turn stays with the key it pointed at. */
  #dropKey(index: number): void {
    this.#byKey.delete(this.#ring[index]!);
    this.#ring.splice(index, 1);
    if (index < this.#turn) this.#turn--;
    if (this.#turn >= this.#ring.length) this.#turn = 0;
  }
}
