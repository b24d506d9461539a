import { countText } from '../../src/tokenize';
import { loadEncodingCounter } from '../../src/tokenize/counter';
import { chineseCorpus, degenerateInputs, englishCorpus } from './corpora';

/**
 * Longest stretch the event loop is blocked while countText() counts (it counts in slices
 * that yield), as wall time and as CPU time (on a loaded machine the OS may deschedule us
 * mid-slice; CPU time is what the slice itself costs). Run in its own process with only
 * tollgate loaded, so other libraries' heaps and GC pauses do not count. Prints JSON rows.
 */
const counter = await loadEncodingCounter('cl100k_base');

async function longestBlock(text: string): Promise<[number, number]> {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let longest = 0;
  let longestCpu = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    longest = Math.max(longest, now - last);
    longestCpu = Math.max(longestCpu, (cpu.user + cpu.system) / 1e3);
    last = now;
    lastCpu = process.cpuUsage();
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await countText(counter, text);
  running = false;
  tick();
  return [longest, longestCpu];
}

const inputs = [
  ...degenerateInputs(100 * 1024).map(({ name, text }) => ({ name: `${name}, 100 KB`, text })),
  { name: 'Chinese corpus, 1 MB', text: chineseCorpus(1024 * 1024, 5) },
  { name: 'English corpus, 400 KB', text: englishCorpus(400 * 1024) },
];
for (let i = 0; i < 5; i++) for (const { text } of inputs) await longestBlock(text.slice(0, 20_000)); // warm up
const rows: [string, number, number][] = [];
for (const { name, text } of inputs) {
  counter.engine.clearCaches();
  rows.push([name, ...(await longestBlock(text))]);
}
process.stdout.write(JSON.stringify(rows));
