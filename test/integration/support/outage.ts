import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { type Executor, openStore, type Store } from '../../../src/store';
import type { TestStore } from './databases';

/**
 * A TCP relay to the test Postgres that fails the ways a database link does: down/up (a restart:
 * refused connections while down, open ones cut), stall/resume (a network silently dropping
 * packets: nothing moves either way, new connections are accepted and hang, then TCP delivers
 * what was held), and reset (every socket killed with an RST: how a stall often ends).
 * @example
 * const relay = await PostgresOutage.prepare(url);
 * await relay.up();
 * const sql = postgres(relay.urlFor(url));
 * relay.stall();
 * const pending = sql`SELECT 1`; // hangs
 * await relay.held();
 * relay.resume(); // pending completes
 */
export class PostgresOutage {
  readonly port: number;
  readonly #target: { host: string; port: number };
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
  #stalled = false;
  /** What a stall holds back, in arrival order: bytes to forward, connections to open. */
  #held: (() => void)[] = [];
  #heldWaiters: (() => void)[] = [];

  private constructor(port: number, target: { host: string; port: number }) {
    this.port = port;
    this.#target = target;
  }

  /** Reserves a free port with nothing listening on it yet. */
  static async prepare(targetUrl: string): Promise<PostgresOutage> {
    const url = new URL(targetUrl);
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    return new PostgresOutage(port, { host: url.hostname, port: Number(url.port || 5432) });
  }

  /** The database URL as seen through the relay. */
  urlFor(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      this.#track(client);
      // bytes the client sends meanwhile wait in its socket, unread
      this.#whenFlowing(() => this.#connect(client));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Forward nothing either way, and leave new connections hanging, until resume(). */
  stall(): void {
    this.#stalled = true;
  }

  /** Forward again, delivering first what the stall held, as TCP retransmission would. */
  resume(): void {
    this.#stalled = false;
    for (const release of this.#held.splice(0)) release();
  }

  /** Resolves once the stalled relay is holding something back: bytes, or a new connection. */
  held(): Promise<void> {
    if (this.#held.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#heldWaiters.push(resolve));
  }

  /** Kill every open socket, both sides, with a TCP RST. A stall stays until resume(). */
  reset(): void {
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#held.length = 0; // all of it belonged to the sockets just killed
  }

  #connect(client: Socket): void {
    if (client.destroyed) return;
    const upstream = connect(this.#target.port, this.#target.host);
    this.#track(upstream);
    this.#forward(client, upstream);
    this.#forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  /** Relay `from` to `to` with backpressure; while stalled, stop reading and keep what came. */
  #forward(from: Socket, to: Socket): void {
    const deliver = (send: () => void) => {
      if (!this.#stalled) return send();
      from.pause();
      this.#whenFlowing(() => {
        if (to.destroyed) return;
        send();
        if (!to.writableNeedDrain) from.resume(); // else 'drain' resumes it
      });
    };
    from.on('data', (chunk) => deliver(() => void (to.write(chunk) || from.pause())));
    from.on('end', () => deliver(() => void to.end()));
    to.on('drain', () => {
      if (!this.#stalled) from.resume();
    });
  }

  #whenFlowing(release: () => void): void {
    if (!this.#stalled) return release();
    this.#held.push(release);
    for (const resolve of this.#heldWaiters.splice(0)) resolve();
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {}); // a cut or reset link is the point; its errors reach the client as such
  }
}

/** A store whose every statement, raw or drizzle-built, fails like a refused connection while `down` (PGlite has no socket to cut). */
export function storeWithOutage(store: Store): { store: Store; down(): void; up(): void } {
  let unavailable = false;
  const refuse = () => {
    if (unavailable) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  };
  // drizzle queries start from `db` (select, insert, update, …): refused there too.
  const guardDb = (db: Executor['db']) =>
    new Proxy(db, {
      get(target, property, receiver) {
        refuse();
        return Reflect.get(target, property, receiver);
      },
    });
  const guard = (ex: Executor): Executor => ({
    // Lazily: a postgres.js transaction builds its drizzle handle only when asked.
    get db() {
      return guardDb(ex.db);
    },
    async rows(query) {
      refuse();
      return ex.rows(query);
    },
    async query(text, params) {
      refuse();
      return ex.query(text, params);
    },
  });
  return {
    store: {
      ...store,
      ...guard(store),
      async transaction(body) {
        refuse();
        return store.transaction((tx) => body(guard(tx)));
      },
    },
    down: () => {
      unavailable = true;
    },
    up: () => {
      unavailable = false;
    },
  };
}

/** A store whose database can be taken away and given back, over the same data as a test store. */
export interface Outage {
  store: Store;
  down(): Promise<void> | void;
  up(): Promise<void> | void;
  close(): Promise<void>;
}

/**
 * On Postgres, a postgres.js store through a PostgresOutage relay: a real cut socket and refused
 * connections. PGlite runs in this process with no socket to cut, so there every statement fails
 * like a refused connection instead (storeWithOutage).
 */
export async function outageFor(store: TestStore, initially: 'up' | 'down'): Promise<Outage> {
  if (!store.databaseUrl) {
    const flaky = storeWithOutage(store);
    if (initially === 'down') flaky.down();
    return { ...flaky, close: async () => {} };
  }
  const relay = await PostgresOutage.prepare(store.databaseUrl);
  if (initially === 'up') await relay.up();
  const outageStore = await openStore({ databaseUrl: relay.urlFor(store.databaseUrl), migrate: false });
  return {
    store: outageStore,
    down: () => relay.down(),
    up: () => relay.up(),
    close: async () => {
      await outageStore.close();
      await relay.down();
    },
  };
}
