import { degenerateInputs } from './corpora';
import { type BenchEncoding, loadTokenizer, type TokenizerName } from './tokenizers';

/**
 * One cell of the degenerate-input table, run in a child process so the parent can kill it
 * on timeout (the known tokenizers are quadratic here). Sends 'ready' once loaded and warm
 * (the timeout starts then), and prints `{ ms, cpuMs, tokens }` as JSON.
 */
const [name, encoding, index, bytes] = process.argv.slice(2);
const tokenizer = await loadTokenizer(name as TokenizerName, encoding as BenchEncoding);
const { text } = degenerateInputs(Number(bytes))[Number(index)]!;
// A warm process, as a gateway's is: the same kind of input at 2 KB, repeatedly for up to
// half a second (a couple of calls for the quadratic ones, enough for the JIT for ours).
const warmUp = degenerateInputs(2048)[Number(index)]!.text;
for (let i = 0, until = performance.now() + 500; i < 200 && performance.now() < until; i++) tokenizer.count(warmUp);
tokenizer.count('warm up the JIT: words, 123, 中文，標點。\n');
tokenizer.forget();
process.send?.('ready');
const cpu = process.cpuUsage();
const started = performance.now();
const tokens = tokenizer.count(text);
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
process.stdout.write(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1e3, tokens }));
process.disconnect?.();
