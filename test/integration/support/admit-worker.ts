/**
 * A second gateway process for the two-process budget test: admits `count` requests for one key
 * on the database in argv, all at once, and prints how many were admitted as JSON.
 *   node --import tsx test/integration/support/admit-worker.ts <databaseUrl> <keyId> <count> <prefix>
 */
import { sql } from 'drizzle-orm';
import { openStore } from '../../../src/store';
import { createLedger } from '../../../src/usage';
import { admission } from './ledger';

const [databaseUrl, keyId, count, prefix] = process.argv.slice(2);
const store = await openStore({ databaseUrl: databaseUrl!, migrate: false });
const ledger = createLedger(store, { log: () => {} });
// Connect first, say so, then start together with the parent on its go (a line on stdin).
await Promise.all(Array.from({ length: 10 }, () => store.rows(sql`SELECT 1 AS warm`)));
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
const results = await Promise.all(
  Array.from({ length: Number(count) }, (_, index) => ledger.admit(admission(keyId!, { requestId: `${prefix}_${index}` }))),
);
process.stdout.write(`${JSON.stringify({ admitted: results.filter((result) => result.admitted).length })}\n`);
await store.close();
process.exit(0);
