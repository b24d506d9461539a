import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Admission, Settlement } from '../ledger/types';
import type { Money, Price } from '../pricing';
import { decodeEntry, encodeEntry, finalRowOf, fold, type JournalEntry, requestKey } from './journal-entry';

export interface JournalOptions {
  /** The journal folder, shared by the instances of one machine (each writes its own file). */
  dir: string;
  instanceId: string;
  log?: (line: string) => void;
  /** Rewrites the file with only what is still outstanding once it has grown past this (default 1 MiB). */
  compactAfterBytes?: number;
}

type Operation = { kind: 'append'; text: string } | { kind: 'compact' };

/**
 * Requests served fail-open (the database unreachable) live only in memory until their rows are
 * written: this journal keeps them on disk meanwhile, so a gateway stopped or killed during an
 * outage bills them after all. Append-only, one JSON line per fact, each append fsync'd before it
 * resolves; lines the database has are dropped by compaction (the file is emptied, or rewritten
 * with what is still outstanding).
 *
 * Each instance writes `<instanceId>.jsonl`; on a clean stop with rows still unwritten it renames
 * it `<instanceId>.released.jsonl`. `adopt` takes over the files of instances that are gone
 * (released, or no longer heartbeating) and returns their final rows to write again: writing a
 * final row is idempotent per key, request id and month, so a row the database already has
 * changes nothing.
 *
 * @example
 * const journal = new FailOpenJournal({ dir: '.tollgate/journal', instanceId });
 * await journal.admitted(admission, price, reservedCost); // before the request goes upstream
 * journal.settled(settlement);
 * journal.written([{ keyId, requestId }]);                 // the database has it
 */
export class FailOpenJournal {
  readonly #dir: string;
  readonly #path: string;
  readonly #instanceId: string;
  readonly #log: (line: string) => void;
  readonly #compactAfterBytes: number;
  /** Opened at the first append: an instance that never fails open leaves no file. */
  #handle: FileHandle | null = null;
  #inode = 0;
  #bytes = 0;
  /** Outstanding requests: admitted or settled fail-open, not yet known to be in the database. */
  readonly #entries = new Map<string, JournalEntry>();
  readonly #queue: { operation: Operation; done: (error?: unknown) => void }[] = [];
  #running: Promise<void> | null = null;
  #closed = false;

  constructor(options: JournalOptions) {
    this.#dir = options.dir;
    this.#instanceId = options.instanceId;
    this.#path = join(options.dir, `${options.instanceId}.jsonl`);
    this.#log = options.log ?? ((line) => console.error(line));
    this.#compactAfterBytes = options.compactAfterBytes ?? 1 << 20;
  }

  /** Requests journaled and not yet in the database. */
  get outstanding(): number {
    return this.#entries.size;
  }

  /** A fail-open admission, durable when this resolves: enough to bill the prompt if the process dies. */
  admitted(admission: Admission, price: Price, reservedCost: Money): Promise<void> {
    return this.#record({ kind: 'admitted', admission, price, reservedCost });
  }

  /** The whole final row of a fail-open request, durable when this resolves. */
  settled(settlement: Settlement): Promise<void> {
    return this.#record({ kind: 'settled', settlement });
  }

  /** The database has these rows: they leave the journal at the next compaction. */
  written(rows: readonly { keyId: string; requestId: string }[]): void {
    let removed = false;
    for (const row of rows) removed = this.#entries.delete(requestKey(row)) || removed;
    if (removed && (this.#entries.size === 0 || this.#bytes > this.#compactAfterBytes)) {
      this.#enqueue({ kind: 'compact' }).catch((error: unknown) =>
        this.#log(`tollgate: fail-open journal compaction failed: ${String(error)}`),
      );
    }
  }

  /**
   * Takes over the journals of instances that are gone: released ones, and those whose owner
   * `alive` does not list (it answers from the heartbeats, so it throws while the database is
   * away, and then nothing is taken). Their entries become this journal's (durably) before their
   * files are removed; returns their final rows, to be written again.
   */
  async adopt(alive: (instanceIds: string[]) => Promise<Set<string>>, now: Date): Promise<Settlement[]> {
    const files = (await readdir(this.#dir).catch(() => [] as string[]))
      .filter((name) => name.endsWith('.jsonl'))
      .map((name) => ({ name, owner: name.slice(0, name.indexOf('.')), released: name.endsWith('.released.jsonl') }))
      .filter((file) => file.owner !== this.#instanceId);
    if (files.length === 0) return [];
    const unsure = [...new Set(files.filter((file) => !file.released).map((file) => file.owner))];
    const living = unsure.length > 0 ? await alive(unsure) : new Set<string>();
    const adopted = new Map<string, JournalEntry>();
    const claims: string[] = [];
    for (const file of files) {
      if (!file.released && living.has(file.owner)) continue;
      // A rename is atomic: of two instances adopting at once, one gets the file.
      const claim = join(this.#dir, `${this.#instanceId}.claim-${randomBytes(6).toString('hex')}.jsonl`);
      try {
        await rename(join(this.#dir, file.name), claim);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      claims.push(claim);
      fold(this.#parse(await readFile(claim, 'utf8'), file.name), adopted);
    }
    const rows: Settlement[] = [];
    const entries: JournalEntry[] = [];
    for (const [id, entry] of adopted) {
      if (this.#entries.has(id)) continue;
      const settlement = finalRowOf(entry, now);
      rows.push(settlement);
      entries.push({ kind: 'settled', settlement });
    }
    if (entries.length > 0) {
      fold(entries, this.#entries);
      await this.#enqueue({ kind: 'append', text: entries.map(encodeEntry).join('') });
    }
    for (const claim of claims) await unlink(claim);
    if (claims.length > 0)
      this.#log(`tollgate: adopted ${rows.length} fail-open row(s) from the journals of ${claims.length} stopped instance(s)`);
    return rows;
  }

  /**
   * Stops appending. With nothing outstanding the file goes; else it is released, for the next
   * instance to start on this folder (or any running one) to adopt at once.
   */
  async close(): Promise<void> {
    while (this.#running) await this.#running;
    this.#closed = true;
    // Everything outstanding is in our file (made again if it was adopted meanwhile).
    if (!(await this.#stillOurs()) && this.#entries.size > 0) await this.#startFile();
    await this.#handle?.close();
    this.#handle = null;
    if (this.#entries.size === 0) await unlink(this.#path).catch(() => {});
    else {
      await rename(this.#path, join(this.#dir, `${this.#instanceId}.released.jsonl`));
      await syncFolder(this.#dir);
      this.#log(`tollgate: ${this.#entries.size} fail-open row(s) not yet in the database stay in the journal, for the next start`);
    }
  }

  #record(entry: JournalEntry): Promise<void> {
    fold([entry], this.#entries);
    return this.#enqueue({ kind: 'append', text: encodeEntry(entry) });
  }

  #enqueue(operation: Operation): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the fail-open journal is closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ operation, done: (error) => (error === undefined ? resolve() : reject(error)) });
      this.#running ??= this.#run();
    });
  }

  /** One batch at a time: its appends in one write and one fsync (a group commit), then any compaction. */
  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0);
      const text = batch.flatMap(({ operation }) => (operation.kind === 'append' ? [operation.text] : [])).join('');
      let failure: unknown;
      try {
        if (text.length > 0 && (await this.#stillOurs())) {
          await this.#handle!.appendFile(text);
          await this.#handle!.datasync();
          this.#bytes += Buffer.byteLength(text);
        } else if (text.length > 0) {
          await this.#startFile(); // holds everything outstanding, this batch's entries too
        }
        if (batch.some(({ operation }) => operation.kind === 'compact')) await this.#compact();
      } catch (error) {
        failure = error;
      }
      for (const { done } of batch) done(failure);
    }
    this.#running = null;
  }

  /**
   * A new file holding everything outstanding: the first time this instance fails open, or after
   * its file was adopted by another instance (it may have judged this one gone while it could not
   * heartbeat).
   */
  async #startFile(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const handle = await open(this.#path, 'a');
    const text = [...this.#entries.values()].map(encodeEntry).join('');
    await handle.appendFile(text);
    await handle.datasync();
    await syncFolder(this.#dir);
    this.#handle = handle;
    this.#inode = (await handle.stat()).ino;
    this.#bytes = Buffer.byteLength(text);
  }

  /** The open file is still at our path (not adopted meanwhile); else it is let go. */
  async #stillOurs(): Promise<boolean> {
    if (!this.#handle) return false;
    const current = await stat(this.#path).catch(() => null);
    if (current?.ino === this.#inode) return true;
    this.#log('tollgate: the fail-open journal was adopted by another instance; its outstanding rows go to a new one');
    await this.#handle.close().catch(() => {});
    this.#handle = null;
    return false;
  }

  /** Empties the file when nothing is outstanding, else rewrites it with only that (atomically: a new file renamed over it). */
  async #compact(): Promise<void> {
    if (!(await this.#stillOurs())) return;
    const handle = this.#handle!;
    if (this.#entries.size === 0) {
      await handle.truncate(0);
      this.#bytes = 0;
      return;
    }
    if (this.#bytes <= this.#compactAfterBytes) return;
    const text = [...this.#entries.values()].map(encodeEntry).join('');
    const next = await open(`${this.#path}.tmp`, 'w');
    try {
      await next.writeFile(text);
      await next.datasync();
    } finally {
      await next.close();
    }
    await rename(`${this.#path}.tmp`, this.#path);
    await syncFolder(this.#dir);
    await handle.close();
    this.#handle = await open(this.#path, 'a');
    this.#inode = (await this.#handle.stat()).ino;
    this.#bytes = Buffer.byteLength(text);
  }

  #parse(text: string, name: string): JournalEntry[] {
    const lines = text.split('\n').filter((line) => line.length > 0);
    const entries = lines.map(decodeEntry).filter((entry): entry is JournalEntry => entry !== null);
    // Only the last line can be torn by a crash (appends are sequential); more is worth a word.
    if (entries.length < lines.length - 1) this.#log(`tollgate: ${lines.length - entries.length} unreadable line(s) in journal ${name}`);
    return entries;
  }
}

/** Makes a file's creation, rename or removal in `dir` durable. */
async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
