import { fork } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { countChatPrompt } from '../src/tokenize';
import { loadEncodingCounter } from '../src/tokenize/counter';
import { type ChatMessage, conversations, growingRequests } from './lib/chat-workload';
import { chineseCorpus, codeCorpus, degenerateInputs, englishCorpus, randomBytesAsText } from './lib/corpora';
import { median, percentile, printTable } from './lib/table';
import { type BenchEncoding, type BenchTokenizer, loadTokenizer, TOKENIZER_NAMES } from './lib/tokenizers';

/**
 * `npm run bench:tokenize`: tollgate's counter against js-tiktoken, gpt-tokenizer and
 * tiktoken (WASM, the reference), side by side in one run. Ratios matter, absolute times drift.
 */

const CELL_TIMEOUT_S = Number(process.env.BENCH_CELL_TIMEOUT_S ?? 5);
const ENCODINGS: BenchEncoding[] = ['cl100k_base', 'o200k_base'];
const CORPORA = [
  ['English', englishCorpus()],
  ['code', codeCorpus()],
  ['Chinese', chineseCorpus()],
  ['random bytes', randomBytesAsText(100 * 1024)],
] as const;

const fixed = (value: number, digits = 1) => value.toFixed(digits);
const bytesOf = (text: string) => Buffer.byteLength(text, 'utf8');

/**
 * Best-of-N cold CPU time (and wall time) of counting `text` per tokenizer, runs interleaved
 * across tokenizers. CPU time because this 2-core machine is shared: when other tenants load
 * it, wall time mostly measures them. Each run starts with the tokenizer's caches emptied
 * (unless `warm`); slow tokenizers get fewer runs.
 */
function bestColdMs(tokenizers: BenchTokenizer[], text: string, warm: boolean[]): { cpu: number; wall: number }[] {
  const best = tokenizers.map(() => ({ cpu: Infinity, wall: Infinity }));
  for (let run = 0; run < 7; run++) {
    tokenizers.forEach((tokenizer, i) => {
      if (run >= 3 && best[i]!.cpu > 400) return;
      if (!warm[i]) tokenizer.forget();
      const cpu = process.cpuUsage();
      const started = performance.now();
      tokenizer.count(text);
      const wall = performance.now() - started;
      const used = process.cpuUsage(cpu);
      best[i]!.cpu = Math.min(best[i]!.cpu, (used.user + used.system) / 1e3);
      best[i]!.wall = Math.min(best[i]!.wall, wall);
    });
  }
  return best;
}

async function throughput(): Promise<Map<string, number>> {
  const mbps = new Map<string, number>();
  for (const encoding of ENCODINGS) {
    const tokenizers = await Promise.all(TOKENIZER_NAMES.map((name) => loadTokenizer(name, encoding)));
    const reference = tokenizers[3]!;
    const warmUp = englishCorpus(20 * 1024) + chineseCorpus(5 * 1024, 99);
    for (const tokenizer of tokenizers) for (let i = 0; i < 3; i++) tokenizer.count(warmUp);
    const rows: string[][] = [];
    const contenders = [...tokenizers, { ...tokenizers[0]!, name: 'tollgate (warm caches)' }];
    const warm = contenders.map((tokenizer) => tokenizer.name.includes('warm'));
    for (const [corpus, text] of CORPORA) {
      const expected = reference.encode(text).join();
      const tokens = reference.count(text);
      const times = bestColdMs(contenders, text, warm);
      for (const [i, tokenizer] of contenders.entries()) {
        const { cpu, wall } = times[i]!;
        const rate = bytesOf(text) / 1e3 / cpu;
        mbps.set(`${encoding}/${corpus}/${tokenizer.name}`, rate);
        const same = tokenizer.encode(text).join() === expected ? 'yes' : 'NO';
        rows.push([corpus, tokenizer.name, fixed(rate, 2), fixed((tokens / cpu) * 1e3, 0), fixed(cpu, 1), fixed(wall, 1), same]);
      }
    }
    printTable(
      `Cold throughput, ${encoding}, 100 KB corpora (caches emptied before each run; best of up to 7 runs, interleaved; rates from CPU time)`,
      ['corpus', 'tokenizer', 'MB/s', 'tokens/s', 'ms cpu', 'ms wall', 'ids = WASM'],
      rows,
    );
  }
  return mbps;
}

/** Prompt tokens of one request the way a gateway without a message cache does it. */
function countPerMessage(tokenizer: BenchTokenizer, messages: ChatMessage[]): number {
  let tokens = 3;
  for (const message of messages) tokens += 3 + tokenizer.count(message.role) + tokenizer.count(message.content);
  return tokens;
}

async function chatWorkload(): Promise<Map<string, number>> {
  const warmUp = growingRequests(conversations(3, 1));
  const requests = growingRequests(conversations(30, 2));
  const counter = await loadEncodingCounter('cl100k_base');
  const p50 = new Map<string, number>();
  const rows: string[][] = [];
  const contenders: [string, (messages: ChatMessage[]) => Promise<number> | number][] = [
    ['tollgate (message cache)', (messages) => countChatPrompt(counter, { messages }, 'gpt-4')],
  ];
  for (const name of TOKENIZER_NAMES.slice(1)) {
    const tokenizer = await loadTokenizer(name, 'cl100k_base', true);
    contenders.push([tokenizer.name, (messages) => countPerMessage(tokenizer, messages)]);
  }
  const systemTokens = counter.count(requests[0]![0]!.content);
  for (const [name, count] of contenders) {
    for (const messages of warmUp) await count(messages);
    const micros: number[] = [];
    const cpuMicros: number[] = [];
    for (const messages of requests) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      await count(messages);
      micros.push((performance.now() - started) * 1e3);
      const used = process.cpuUsage(cpu);
      cpuMicros.push(used.user + used.system);
    }
    p50.set(name, median(micros));
    rows.push([
      name,
      fixed(median(micros), 0),
      fixed(percentile(micros, 99), 0),
      fixed(median(cpuMicros), 0),
      fixed(percentile(cpuMicros, 99), 0),
    ]);
  }
  printTable(
    `Chat workload, cl100k_base: ${requests.length} requests, 30 conversations × 10 turns, system prompt ≈ ${systemTokens} tokens, whole history re-sent each turn`,
    ['counter', 'p50 µs/request', 'p99 µs/request', 'p50 µs cpu', 'p99 µs cpu'],
    rows,
  );
  return p50;
}

/** Runs a bench/lib script in a child process; the timeout starts when it reports 'ready'. */
function runChild(script: string, args: string[], timeoutS: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = fork(fileURLToPath(new URL(`./lib/${script}`, import.meta.url)), args, {
      execArgv: process.execArgv,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    let timer = setTimeout(() => child.kill('SIGKILL'), 120_000); // loading, before 'ready'
    child.on('message', () => {
      clearTimeout(timer);
      timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1e3);
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(output || undefined);
    });
  });
}

async function degenerate(): Promise<number[]> {
  const rows: string[][] = [];
  const tollgate100k: number[] = [];
  for (const bytes of [10 * 1024, 100 * 1024]) {
    for (const [index, { name, text }] of degenerateInputs(bytes).entries()) {
      const row = [`${name}, ${bytes / 1024} KB (${text.length} chars)`];
      for (const tokenizer of TOKENIZER_NAMES) {
        const output = await runChild('degenerate-cell.ts', [tokenizer, 'cl100k_base', String(index), String(bytes)], CELL_TIMEOUT_S);
        const cell = output === undefined ? undefined : (JSON.parse(output) as { ms: number; cpuMs: number });
        row.push(cell ? `${fixed(cell.ms)} ms (cpu ${fixed(cell.cpuMs)})` : `timeout >${CELL_TIMEOUT_S}s`);
        if (tokenizer === 'tollgate' && bytes > 10 * 1024) tollgate100k.push(cell?.ms ?? Infinity);
      }
      rows.push(row);
    }
  }
  printTable(
    `Degenerate inputs, cl100k_base (each cell in a warm child process, killed ${CELL_TIMEOUT_S}s after it starts counting)`,
    ['input', ...TOKENIZER_NAMES],
    rows,
  );
  return tollgate100k;
}

async function eventLoop(): Promise<void> {
  const output = await runChild('event-loop-cell.ts', [], 600);
  const rows = (JSON.parse(output ?? '[]') as [string, number, number][]).map(([name, ms, cpuMs]) => [name, fixed(ms), fixed(cpuMs)]);
  printTable(
    'tollgate countText(): longest event-loop block while counting (async, sliced; own process)',
    ['input', 'longest block ms (wall)', '(cpu)'],
    rows,
  );
}

console.log(
  `tollgate tokenizer bench — Node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, ${new Date().toISOString()}`,
);
const mbps = await throughput();
const chatP50 = await chatWorkload();
const tollgate100k = await degenerate();
await eventLoop();

const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${fixed(a / b, 1)}×` : 'n/a');
console.log('\nFloors (issue 5)');
for (const encoding of ENCODINGS) {
  for (const [corpus] of CORPORA.slice(0, 3)) {
    const key = `${encoding}/${corpus}`;
    console.log(
      `  cold ${key}: tollgate ${ratio(mbps.get(`${key}/tollgate`), mbps.get(`${key}/gpt-tokenizer (no cache)`))} gpt-tokenizer (no cache), need ≥ 2×`,
    );
  }
}
console.log(
  `  chat p50: tollgate ${ratio(chatP50.get('gpt-tokenizer (cache)'), chatP50.get('tollgate (message cache)'))} faster than gpt-tokenizer (cache), need ≥ 3×`,
);
console.log(`  degenerate 100 KB: tollgate slowest cell ${fixed(Math.max(...tollgate100k), 1)} ms, need < 100 ms`);
