// Builds the Worker as `wrangler deploy` would (without uploading) and measures it.
// `npx tsx scripts/worker-bundle-size.ts` prints the sizes; test/e2e/worker.test.ts asserts them.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Workers' limits on the compressed script: https://developers.cloudflare.com/workers/platform/limits/#worker-size */
export const FREE_PLAN_LIMIT_BYTES = 3 * 1024 * 1024;
export const PAID_PLAN_LIMIT_BYTES = 10 * 1024 * 1024;

export interface WorkerBundle {
  /** Bytes of JavaScript uploaded (source maps excluded). */
  totalBytes: number;
  gzipBytes: number;
  /** js-tiktoken rank files inside, e.g. `cl100k_base`. */
  encodings: string[];
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

/** `wrangler deploy --dry-run --outdir <tmp>` from the repository root, then measure the output. */
export async function measureWorkerBundle(root = process.cwd()): Promise<WorkerBundle> {
  const outdir = mkdtempSync(join(tmpdir(), 'tollgate-worker-bundle-'));
  try {
    const output = await run(
      join(root, 'node_modules/.bin/wrangler'),
      ['deploy', '--dry-run', '--outdir', outdir, '-c', join(root, 'wrangler.toml')],
      root,
    );
    const scripts = readdirSync(outdir).filter((file) => /\.(m?js|wasm)$/.test(file));
    const bytes = Buffer.concat(scripts.map((file) => readFileSync(join(outdir, file))));
    const text = bytes.toString('latin1');
    return {
      totalBytes: bytes.length,
      gzipBytes: gzipSync(bytes, { level: 9 }).length,
      encodings: [...new Set([...text.matchAll(/node_modules\/js-tiktoken\/dist\/ranks\/(\w+)\.js/g)].map((match) => match[1]!))],
      hasPglite: scripts.some((file) => file.endsWith('.wasm')) || /@electric-sql\/pglite|pglite\.wasm/.test(text),
      wranglerSummary: /Total Upload:[^\n]*/.exec(output)?.[0] ?? '(no summary printed)',
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
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
    `  encodings bundled: ${bundle.encodings.join(', ') || 'none'}; PGlite: ${bundle.hasPglite ? 'PRESENT' : 'absent'}`,
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
