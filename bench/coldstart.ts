import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { TABLES_DIR, writeRankTables } from '../scripts/rank-tables.mjs';
import { gatewayTable } from './lib/coldstart-gateway';
import { median, printTable } from './lib/table';

/** CPU is read in 10 ms clock ticks: the mean of several samples resolves below a tick, a median cannot. */
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

import { bundleWorker, removeBundle, startWorkerd, type WorkerBundle } from './lib/workerd';

/**
 * `npm run bench:coldstart`: what the first request of a fresh process or isolate pays to load
 * an encoding and count a small chat request, the old way (js-tiktoken's base64 rank files,
 * decoded into Maps at load) against the new (the precomputed layout, used as loaded), side by
 * side in one run, samples interleaved.
 *   --old=<git rev>  the engine to compare against (default: the last commit before the layout)
 *   --samples=<n>    fresh processes / isolates per cell (default 9)
 *   --only=node|workerd|gateway  one of the three tables
 *
 * Node: each sample is a fresh `node` running a bundle of bench/lib/coldstart-cell.ts (built
 * like dist/). workerd: each sample is a fresh workerd (the binary wrangler runs) serving the
 * bundle `wrangler deploy` would upload for bench/lib/tokenizer-worker.ts; its CPU time is read
 * from /proc around each request, so Linux only, and in 10 ms clock ticks (medians of several
 * samples). The isolate's own clock stands still while it runs, so nothing inside can time it.
 */

const root = process.cwd();
const OLD_REV = option('old') ?? 'cb6352e';
const SAMPLES = Number(option('samples') ?? 9);
const LATER_REQUESTS = 20;
const ENCODINGS = ['cl100k_base', 'o200k_base'] as const;
const WORKER_FLAGS = ['nodejs_compat', 'enable_request_signal'];
const work = join(root, '.scratch/coldstart');

function option(name: string): string | undefined {
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

interface Variant {
  name: string;
  /** A tree holding src/tokenize, bench/lib/coldstart-*.ts and a wrangler.toml. */
  root: string;
}

const NEW: Variant = { name: 'new (precomputed layout)', root };

/** The old engine, from git, with the bench's cells beside it so their relative imports reach it. */
function oldTree(): Variant {
  const tree = join(work, 'old');
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  const files = ['src/tokenize', 'src/runtime/encoding-not-bundled.ts', 'wrangler.toml'];
  const archive = execFileSync('git', ['archive', OLD_REV, ...files], { maxBuffer: 64 << 20 });
  execFileSync('tar', ['-x', '-C', tree], { input: archive });
  for (const file of ['coldstart-cell.ts', 'tokenizer-worker.ts', 'coldstart-request.ts']) {
    mkdirSync(join(tree, 'bench/lib'), { recursive: true });
    copyFileSync(join(root, 'bench/lib', file), join(tree, 'bench/lib', file));
  }
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
  return { name: `old (${OLD_REV}: js-tiktoken ranks → Maps)`, root: tree };
}

/** The Node cell as dist/ would run it: one ESM bundle, packages and rank tables left outside. */
async function buildCell(variant: Variant): Promise<string> {
  const outfile = join(work, `${variant === NEW ? 'new' : 'old'}-cell.mjs`);
  const tablesOutside: Plugin = {
    name: 'tables-outside',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^\.\/tables\/\w+\.js$/ }, (args) => ({
        path: join(TABLES_DIR, args.path.slice(9)),
        external: true,
      }));
    },
  };
  await build({
    entryPoints: [join(variant.root, 'bench/lib/coldstart-cell.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    plugins: [tablesOutside],
    logLevel: 'warning',
  });
  return outfile;
}

interface NodeSample {
  loadMs: number;
  loadCpuMs: number;
  countMs: number;
  countCpuMs: number;
  tokens: number;
  processCpuMs: number;
  retainedBytes: number;
  approxBytes: number;
}

function runCell(cell: string, encoding: string): NodeSample {
  const output = execFileSync(process.execPath, ['--expose-gc', cell, encoding], { encoding: 'utf8', cwd: dirname(cell) });
  return JSON.parse(output) as NodeSample;
}

async function nodeTable(variants: Variant[]): Promise<void> {
  const cells = await Promise.all(variants.map(buildCell));
  const rows: string[][] = [];
  for (const encoding of ENCODINGS) {
    const samples = variants.map((): NodeSample[] => []);
    for (let i = 0; i < SAMPLES; i++) for (const [v, cell] of cells.entries()) samples[v]!.push(runCell(cell, encoding));
    const tokens = new Set(samples.flat().map((sample) => sample.tokens));
    variants.forEach((variant, v) => {
      const of = (pick: (sample: NodeSample) => number) => median(samples[v]!.map(pick));
      rows.push([
        `${encoding}, ${variant.name}`,
        of((s) => s.loadMs).toFixed(1),
        of((s) => s.loadCpuMs).toFixed(1),
        of((s) => s.countMs).toFixed(2),
        (of((s) => s.loadCpuMs + s.countCpuMs) as number).toFixed(1),
        of((s) => s.processCpuMs).toFixed(0),
        (of((s) => s.retainedBytes) / 2 ** 20).toFixed(1),
        (of((s) => s.approxBytes) / 2 ** 20).toFixed(1),
        tokens.size === 1 ? 'yes' : `NO (${[...tokens].join(', ')})`,
      ]);
    });
  }
  printTable(
    `Node ${process.version}: a fresh process loads one encoding and counts a first small chat request (median of ${SAMPLES}, interleaved)`,
    [
      'encoding, engine',
      'load ms',
      'load ms cpu',
      'count ms',
      'load+count ms cpu',
      'process ms cpu',
      'retained MiB',
      'approxBytes MiB',
      'same count',
    ],
    rows,
  );
}

interface WorkerdSample {
  startupCpuMs: number;
  firstMs: number;
  firstCpuMs: number;
  laterMs: number;
  laterCpuMs: number;
  body: string;
}

async function workerdSample(bundle: WorkerBundle, encoding: string | null): Promise<WorkerdSample> {
  const workerd = await startWorkerd(bundle, { compatibilityFlags: WORKER_FLAGS });
  try {
    const url = encoding === null ? `${workerd.url}/` : `${workerd.url}/?encoding=${encoding}`;
    const startupCpuMs = workerd.cpuMs();
    const timed = async () => {
      const started = performance.now();
      const body = await (await fetch(url)).text();
      return { ms: performance.now() - started, body };
    };
    const first = await timed();
    const firstCpuMs = workerd.cpuMs() - startupCpuMs;
    const later: number[] = [];
    for (let i = 0; i < LATER_REQUESTS; i++) later.push((await timed()).ms);
    // Per request, over all of them: one request is well under a clock tick.
    const laterCpuMs = (workerd.cpuMs() - startupCpuMs - firstCpuMs) / LATER_REQUESTS;
    return { startupCpuMs, firstMs: first.ms, firstCpuMs, laterMs: median(later), laterCpuMs, body: first.body };
  } finally {
    await workerd.stop();
  }
}

async function workerdTable(variants: Variant[]): Promise<void> {
  const bundles: WorkerBundle[] = [];
  for (const variant of variants) bundles.push(await bundleWorker(variant.root, 'bench/lib/tokenizer-worker.ts'));
  try {
    const rows: string[][] = [];
    for (const encoding of [null, ...ENCODINGS]) {
      const samples = variants.map((): WorkerdSample[] => []);
      for (let i = 0; i < SAMPLES; i++)
        for (const [v, bundle] of bundles.entries()) samples[v]!.push(await workerdSample(bundle, encoding));
      const bodies = new Set(samples.flat().map((sample) => sample.body));
      variants.forEach((variant, v) => {
        const of = (pick: (sample: WorkerdSample) => number) => median(samples[v]!.map(pick));
        const cpu = (pick: (sample: WorkerdSample) => number) => mean(samples[v]!.map(pick));
        rows.push([
          `${encoding ?? 'no encoding (a bare request)'}, ${variant.name}`,
          `${(bundles[v]!.gzipBytes / 1024).toFixed(0)} KiB`,
          cpu((s) => s.startupCpuMs).toFixed(1),
          of((s) => s.firstMs).toFixed(1),
          cpu((s) => s.firstCpuMs).toFixed(1),
          of((s) => s.laterMs).toFixed(2),
          cpu((s) => s.laterCpuMs).toFixed(1),
          bodies.size === 1 ? 'yes' : `NO (${[...bodies].join(' ')})`,
        ]);
      });
    }
    printTable(
      `workerd ${workerdVersion()}: a fresh isolate per sample; its first request loads the encoding and counts a small chat request (${SAMPLES} samples: wall times the median, CPU of the workerd process in 10 ms ticks the mean)`,
      [
        'encoding, engine',
        'bundle gzip',
        'startup ms cpu (mean)',
        '1st request ms',
        '1st request ms cpu (mean)',
        `later ms (p50 of ${LATER_REQUESTS})`,
        'later ms cpu (mean)',
        'same answer',
      ],
      rows,
    );
  } finally {
    for (const bundle of bundles) removeBundle(bundle);
  }
}

function workerdVersion(): string {
  return execFileSync(join(root, 'node_modules/workerd/bin/workerd'), ['--version'], { encoding: 'utf8' }).trim();
}

console.log(
  `tollgate cold-start bench — Node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, ${new Date().toISOString()}`,
);
await writeRankTables({ ifStale: true });
if (!existsSync(resolve(root, 'src/tokenize/ranks.ts'))) throw new Error('run from the repository root');
const variants = [oldTree(), NEW];
const only = option('only');
if (only === undefined || only === 'node') await nodeTable(variants);
if (only === undefined || only === 'workerd') await workerdTable(variants);
if (only === undefined || only === 'gateway') await gatewayTable(root, work, OLD_REV, SAMPLES);
