import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate` writes SQL into drizzle/; then `npx tsx scripts/embed-migrations.ts`
// refreshes src/store/migrations.generated.ts, the copy that runtimes without a filesystem load.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/schema.ts',
  out: './drizzle',
});
