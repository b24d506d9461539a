#!/usr/bin/env node
// Bundles the Node server (src/node.ts) and the operator CLI (src/cli/main.ts) into dist/.
//   node scripts/build.mjs             build (`npm run build`, and `npm pack` through prepack)
//   node scripts/build.mjs --if-stale  build only when dist/ is missing or older than its inputs (`npm start`'s prestart)
// Plain JavaScript, so the staleness check costs one node start and no transpiler.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const entries = { node: 'src/node.ts', cli: 'src/cli/main.ts' };
const outputs = Object.keys(entries).map((name) => join(dist, `${name}.js`));
const inputs = ['src', 'package.json', 'tsconfig.json', 'scripts/build.mjs'].map((path) => join(root, path));

/** Newest modification time under a path; folders count too, so a deleted source file makes dist stale. */
function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

function isStale() {
  let oldestOutput = Infinity;
  for (const output of outputs) {
    try {
      oldestOutput = Math.min(oldestOutput, statSync(output).mtimeMs);
    } catch {
      return true;
    }
  }
  return inputs.some((input) => newestMtime(input) > oldestOutput);
}

// The CLI's `serve` imports the server entry; in dist that is the sibling bundle, not a second copy of the server.
const serverEntryIsSibling = {
  name: 'server-entry-is-sibling',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/\.\.\/node$/ }, (args) =>
      args.importer.endsWith(join('src', 'cli', 'commands', 'serve.ts')) ? { path: './node.js', external: true } : undefined,
    );
  },
};

/** Packages stay external, so each one the bundles import must be a runtime dependency of the installed package. */
function checkExternals(metafile, dependencies) {
  const packageName = (specifier) =>
    specifier
      .split('/')
      .slice(0, specifier.startsWith('@') ? 2 : 1)
      .join('/');
  const missing = new Set();
  for (const output of Object.values(metafile.outputs)) {
    for (const { path, external } of output.imports) {
      if (external && !path.startsWith('node:') && !path.startsWith('.') && !(packageName(path) in dependencies))
        missing.add(packageName(path));
    }
  }
  if (missing.size > 0) throw new Error(`dist imports packages that are not in package.json "dependencies": ${[...missing].join(', ')}`);
}

export async function buildDist() {
  const { build } = await import('esbuild');
  const { dependencies = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const result = await build({
    absWorkingDir: root,
    entryPoints: entries,
    outdir: dist,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    metafile: true,
    write: false,
    logLevel: 'warning',
    plugins: [serverEntryIsSibling],
  });
  checkExternals(result.metafile, dependencies);
  mkdirSync(dist, { recursive: true });
  // Each file is replaced by a rename, so a server starting during a rebuild never reads half a bundle.
  for (const file of result.outputFiles) {
    writeFileSync(`${file.path}.tmp`, file.contents);
    renameSync(`${file.path}.tmp`, file.path);
  }
  const written = new Set(result.outputFiles.map((file) => file.path));
  for (const name of readdirSync(dist)) if (!written.has(join(dist, name))) rmSync(join(dist, name), { recursive: true, force: true });
  return result.outputFiles.filter((file) => file.path.endsWith('.js')).map((file) => relative(root, file.path));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--if-stale') && !isStale()) process.exit(0);
  const files = await buildDist();
  console.log(`tollgate: built ${files.join(', ')}`);
}
