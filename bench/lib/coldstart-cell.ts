import type { EncodingName } from '../../src/config';
import { countChatRequest, loadCounter, tokenizerStats } from '../../src/tokenize';
import { FIRST_REQUEST } from './coldstart-request';

/**
 * One Node sample of bench/coldstart.ts, in a fresh process (`node --expose-gc cell.mjs
 * <encoding>`; bundled like dist/ so nothing is transpiled on the way): load one encoding, count
 * a first small request, print JSON. The bench copies this file next to the old engine too, so
 * `../../src/tokenize` is whichever engine is measured.
 */
const encoding = process.argv[2] as EncodingName;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const memory = () => {
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
};
const cpuMs = (since?: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e3;
};

const memoryBefore = memory();
const cpu = process.cpuUsage();
const started = performance.now();
const counter = await loadCounter(encoding);
const loadMs = performance.now() - started;
const loadCpuMs = cpuMs(cpu);
const countCpu = process.cpuUsage();
const countStarted = performance.now();
const tokens = await countChatRequest(counter, FIRST_REQUEST, FIRST_REQUEST.model);
const countMs = performance.now() - countStarted;
const countCpuMs = cpuMs(countCpu);
const stats = tokenizerStats().encodings.find((loaded) => loaded.encoding === encoding)!;
process.stdout.write(
  JSON.stringify({
    loadMs,
    loadCpuMs,
    countMs,
    countCpuMs,
    tokens,
    // Everything since the process started: node's own start, parsing, loading, counting.
    processCpuMs: cpuMs(),
    retainedBytes: memory() - memoryBefore,
    approxBytes: stats.approxBytes,
  }),
);
