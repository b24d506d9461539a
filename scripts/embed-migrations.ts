/**
 * Copies the SQL migrations in drizzle/ into src/store/migrations.generated.ts, so runtimes with
 * no filesystem (Workers) migrate too. Run after `npx drizzle-kit generate`:
 *   npx tsx scripts/embed-migrations.ts          (writes the module)
 *   npx tsx scripts/embed-migrations.ts --check  (exits 1 when the module is stale)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readMigrationsDir, renderMigrationsModule } from '../src/store/migrations-dir';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = `${root}src/store/migrations.generated.ts`;
const text = renderMigrationsModule(readMigrationsDir(`${root}drizzle`));

if (process.argv.includes('--check')) {
  const current = readFileSync(target, 'utf8');
  if (current !== text) {
    console.error('src/store/migrations.generated.ts is stale: run `npx tsx scripts/embed-migrations.ts`');
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
