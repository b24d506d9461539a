/**
 * The import map of src/: which room imports which, checked against the layers (no room imports
 * one above it) and for cycles. `npx tsx scripts/import-map.ts` prints it; a unit test runs the
 * same check (test/unit/layout.test.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The rooms, bottom first. A room may import rooms on earlier lines (and itself), never later
 * ones; rooms on one line do not import each other.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'pricing', 'cancel'],
  ['config', 'ledger'],
  ['tokenize', 'context', 'budget', 'backends'],
  ['store'],
  ['usage', 'alerts', 'proxy'],
  ['metrics'],
  ['deps'],
  ['auth', 'reports'],
  ['http'],
  ['runtime'],
  ['gateway', 'app'],
  ['node', 'worker'],
  // `tollgate serve` starts the Node entry.
  ['cli'],
];

/** A file's room: its folder under src/, or its own name for a top-level file (app.ts → app). */
export function roomOf(srcDir: string, file: string): string {
  const [first, second] = relative(srcDir, file).split(/[\\/]/);
  return second === undefined ? first!.replace(/\.tsx?$/, '') : first!;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') || name.endsWith('.tsx') ? [path] : [];
  });
}

const IMPORT =
  /^\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;

/** Room → the rooms it imports (relative imports only; packages are not rooms). */
export function importMap(srcDir: string): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const file of sourceFiles(srcDir)) {
    const from = roomOf(srcDir, file);
    const imports = map.get(from) ?? new Set<string>();
    map.set(from, imports);
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolve(dirname(file), (match[1] ?? match[2] ?? match[3])!);
      if (!target.startsWith(srcDir)) continue;
      const to = roomOf(srcDir, /\.tsx?$/.test(target) ? target : `${target}.ts`);
      if (to !== from) imports.add(to);
    }
  }
  return map;
}

/** Every import that breaks the layers, and every room not in LAYERS. */
export function layerViolations(map: Map<string, Set<string>>): string[] {
  const rank = new Map(LAYERS.flatMap((rooms, index) => rooms.map((room) => [room, index] as const)));
  const problems: string[] = [];
  for (const [from, imports] of map) {
    const fromRank = rank.get(from);
    if (fromRank === undefined) {
      problems.push(`${from}: not in LAYERS (add it where it belongs)`);
      continue;
    }
    for (const to of imports) {
      const toRank = rank.get(to);
      if (toRank === undefined) problems.push(`${from} → ${to}: ${to} is not in LAYERS`);
      else if (toRank >= fromRank) problems.push(`${from} → ${to}: ${toRank === fromRank ? 'same layer' : 'upward'}`);
    }
  }
  return problems;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const srcDir = fileURLToPath(new URL('../src', import.meta.url));
  const map = importMap(srcDir);
  for (const rooms of LAYERS) {
    for (const room of rooms) console.log(`${room.padEnd(9)} → ${[...(map.get(room) ?? [])].sort().join(', ') || '(nothing)'}`);
  }
  const problems = layerViolations(map);
  for (const problem of problems) console.log(`VIOLATION ${problem}`);
  process.exitCode = problems.length > 0 ? 1 : 0;
}
