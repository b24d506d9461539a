// Applies tollgate's migrations to the production database, which the Worker never migrates itself.
// `DATABASE_URL=postgres://… npx tsx scripts/worker-migrate.ts` (the direct URL, not Hyperdrive's).
import { migrate, migrations, openStore } from '../src/store';

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl?.startsWith('postgres')) {
    console.error('tollgate: set DATABASE_URL=postgres://user:password@host:5432/db to the database the Worker uses');
    process.exit(2);
  }
  const store = await openStore({ databaseUrl, maxConnections: 1, migrate: false });
  try {
    const { applied } = await migrate(store, migrations);
    const host = new URL(databaseUrl).host;
    console.log(
      applied.length > 0
        ? `tollgate: applied ${applied.join(', ')} on ${host}`
        : `tollgate: ${host} is up to date (${migrations.length} migrations)`,
    );
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  console.error(`tollgate: migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
