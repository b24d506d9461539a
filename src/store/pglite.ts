import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { type Db, type RawQuery, type Store, storeOf } from './db';
import * as schema from './schema';

/** A store on embedded Postgres (PGlite): a data folder, or `memory://` for tests. */
export async function openPgliteStore(dataDir: string): Promise<Store> {
  const client = await PGlite.create(dataDir);
  const db = drizzle(client, { schema }) as unknown as Db;
  const raw: RawQuery = async <T extends Record<string, unknown>>(text: string, params: unknown[]) =>
    (await client.query<T>(text, params)).rows;
  return storeOf(
    'pglite',
    db,
    async () => {
      if (!client.closed) await client.close();
    },
    raw,
  );
}
