// Builds the Worker as `wrangler deploy` would (without uploading) and measures it.
// `npx tsx scripts/worker-bundle-size.ts` prints the sizes; test/e2e/worker.test.ts asserts them.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Workers' limits on the compressed script: https://developers.cloudflare.com/workers/platform/limits/#worker-size */
export const FREE_PLAN_LIMIT_BYTES = 3 * 1024 * 1024;
export const PAID_PLAN_LIMIT_BYTES = 10 * 1024 * 1024;

export interface WorkerBundle {
  /** Bytes of the modules uploaded: JavaScript and Data modules (source maps excluded). */
  totalBytes: number;
  gzipBytes: number;
  /** Tokenizer encodings inside, e.g. `cl100k_base`: their rank tables as Data modules. */
  encodings: string[];
  /** Bytes of the rank tables' Data modules (part of totalBytes). */
  tableBytes: number;
  /** Whether any of PGlite (JS or its wasm) got in: it must not. */
  hasPglite: boolean;
  /** wrangler's own "Total Upload: … / gzip: …" line. */
  wranglerSummary: string;
}

/** The env wrangler runs with in tests and scripts: no telemetry, no update check against npm. */
export function quietWranglerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: 'false',
    // wrangler's banner asks the npm registry for a newer version; a closed port keeps it offline.
    npm_config_registry: 'http://127.0.0.1:9/',
    ...extra,
  };
}

export interface BundleOptions {
  /** Entry to build instead of wrangler.toml's `main` (the config's [alias], [build] and rules still apply). */
  script?: string;
  /** Where to leave the output; by default a temporary folder, removed after measuring. */
  outdir?: string;
}

/** `wrangler deploy --dry-run --outdir <tmp>` from the repository root, then measure the output. */
export async function measureWorkerBundle(root = process.cwd(), options: BundleOptions = {}): Promise<WorkerBundle> {
  const outdir = options.outdir ?? mkdtempSync(join(tmpdir(), 'tollgate-worker-bundle-'));
  try {
    const output = await run(
      join(root, 'node_modules/.bin/wrangler'),
      ['deploy', '--dry-run', '--outdir', outdir, '-c', join(root, 'wrangler.toml'), ...(options.script ? [options.script] : [])],
      root,
    );
    // Data modules (*.bin) are uploaded beside the script and count toward the size limit.
    const modules = readdirSync(outdir).filter((file) => /\.(m?js|wasm|bin)$/.test(file));
    const bytes = Buffer.concat(modules.map((file) => readFileSync(join(outdir, file))));
    const text = bytes.toString('latin1');
    const tables = modules.filter((file) => file.endsWith('.bin'));
    const encodings = [
      ...tables.map((file) => /-(\w+)\.bin$/.exec(file)?.[1] ?? file),
      // A table module wrangler.toml's [alias] misses is the Node one, which reads a file: not on Workers.
      ...[...text.matchAll(/tokenize\/tables\/(\w+)\.js/g)].map((match) => `${match[1]!} (NOT aliased: reads a file)`),
    ];
    return {
      totalBytes: bytes.length,
      gzipBytes: gzipSync(bytes, { level: 9 }).length,
      encodings: [...new Set(encodings)],
      tableBytes: tables.reduce((sum, file) => sum + statSync(join(outdir, file)).size, 0),
      hasPglite: modules.some((file) => file.endsWith('.wasm')) || /@electric-sql\/pglite|pglite\.wasm/.test(text),
      wranglerSummary: /Total Upload:[^\n]*/.exec(output)?.[0] ?? '(no summary printed)',
    };
  } finally {
    if (options.outdir === undefined) rmSync(outdir, { recursive: true, force: true });
  }
}

function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env: quietWranglerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolvePromise(output) : reject(new Error(`wrangler ${args.join(' ')} exited with ${code}:\n${output}`)),
    );
  });
}

export function describeBundle(bundle: WorkerBundle): string {
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const plan =
    bundle.gzipBytes < FREE_PLAN_LIMIT_BYTES
      ? 'within the free plan (3 MiB)'
      : bundle.gzipBytes < PAID_PLAN_LIMIT_BYTES
        ? 'within the paid plan only (10 MiB)'
        : 'OVER every plan';
  return [
    `Worker bundle: ${kib(bundle.totalBytes)}, gzip ${kib(bundle.gzipBytes)}: ${plan}`,
    `  encodings bundled: ${bundle.encodings.join(', ') || 'none'} (rank tables ${kib(bundle.tableBytes)}); PGlite: ${bundle.hasPglite ? 'PRESENT' : 'absent'}`,
    `  wrangler: ${bundle.wranglerSummary}`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  measureWorkerBundle().then(
    (bundle) => console.log(describeBundle(bundle)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
