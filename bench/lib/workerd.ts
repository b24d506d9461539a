import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { measureWorkerBundle } from '../../scripts/worker-bundle-size';

/**
 * A Worker as `wrangler deploy` would upload it, run in workerd directly (no wrangler, no
 * miniflare in front), so a bench can start a fresh isolate per sample and read the workerd
 * process's CPU time around each request.
 */
export interface WorkerBundle {
  dir: string;
  /** The entry module and the others wrangler wrote beside it (Data modules: the rank tables). */
  modules: string[];
  gzipBytes: number;
  totalBytes: number;
}

/** `wrangler deploy --dry-run` of `entry` (default: the config's `main`) with the config in `root` (its [alias], [build] and rules). */
export async function bundleWorker(root: string, entry = 'src/worker.ts'): Promise<WorkerBundle> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-coldstart-'));
  const bundle = await measureWorkerBundle(root, { script: entry, outdir: dir });
  const main = `${basename(entry).replace(/\.ts$/, '')}.js`;
  const others = readdirSync(dir).filter((file) => file !== main && /\.(m?js|bin|wasm)$/.test(file));
  return { dir, modules: [main, ...others], gzipBytes: bundle.gzipBytes, totalBytes: bundle.totalBytes };
}

export interface Workerd {
  url: string;
  /** CPU time the workerd process has used so far (all threads), in ms; 10 ms resolution (clock ticks). */
  cpuMs(): number;
  stop(): Promise<void>;
}

const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux

export interface WorkerdOptions {
  compatibilityFlags: string[];
  /** Text bindings (vars and secrets). */
  bindings?: Record<string, string>;
  /** Let the Worker reach loopback and private addresses (a local database, a fake backend). */
  localNetwork?: boolean;
}

/** Starts workerd on `bundle` and resolves once it accepts connections (no request is made: the isolate stays fresh). */
export async function startWorkerd(bundle: WorkerBundle, options: WorkerdOptions): Promise<Workerd> {
  const port = await freePort();
  const bindings = Object.entries(options.bindings ?? {}).map(([name, text]) => `(name = "${name}", text = ${JSON.stringify(text)})`);
  const network = options.localNetwork ? ', (name = "network", network = (allow = ["public", "private", "local"]))' : '';
  const modules = bundle.modules.map((file, i) =>
    i === 0 || file.endsWith('.js') ? `(name = "${file}", esModule = embed "${file}")` : `(name = "${file}", data = embed "${file}")`,
  );
  const config = join(bundle.dir, 'workerd.capnp');
  writeFileSync(
    config,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)${network}],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [${modules.join(', ')}],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = [${options.compatibilityFlags.map((flag) => `"${flag}"`).join(', ')}],
  bindings = [${bindings.join(', ')}],${options.localNetwork ? '\n  globalOutbound = "network",' : ''}
);
`,
  );
  const child = spawn(join(process.cwd(), 'node_modules/workerd/bin/workerd'), ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (chunk) => (errors += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (const until = Date.now() + 30_000; !(await accepts(port)); await new Promise((resolve) => setTimeout(resolve, 5))) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`workerd did not start: ${errors}`);
  }
  return { url: `http://127.0.0.1:${port}`, cpuMs: () => processCpuMs(child), stop: () => stop(child, exited) };
}

export function removeBundle(bundle: WorkerBundle): void {
  rmSync(bundle.dir, { recursive: true, force: true });
}

function processCpuMs(child: ChildProcess): number {
  // Fields after the command name: state is 3rd, utime 14th and stime 15th of the whole line.
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  child.kill('SIGKILL');
  await exited;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
