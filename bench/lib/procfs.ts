import { readdirSync, readFileSync } from 'node:fs';

// Per-process CPU and memory from /proc (Linux), for the cost of each process group in a benchmark.

function processes(): { pid: number; pgid: number; comm: string; cpuTicks: number; reapedTicks: number }[] {
  const found: { pid: number; pgid: number; comm: string; cpuTicks: number; reapedTicks: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      found.push({
        pid: Number(entry),
        pgid: Number(fields[2]),
        comm,
        cpuTicks: Number(fields[11]) + Number(fields[12]),
        reapedTicks: Number(fields[13]) + Number(fields[14]),
      });
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

/** User + system CPU seconds of every process in a process group. */
export function groupCpuSeconds(pgid: number): number {
  return (
    processes()
      .filter((p) => p.pgid === pgid)
      .reduce((sum, p) => sum + p.cpuTicks, 0) / 100
  );
}

/**
 * User + system CPU seconds of every Postgres server process on this machine (not PGlite),
 * backends that have ended included (the postmaster reaps them, so their CPU is its children's).
 */
export function postgresCpuSeconds(): number {
  return (
    processes()
      .filter((p) => p.comm === 'postgres')
      .reduce((sum, p) => sum + p.cpuTicks + p.reapedTicks, 0) / 100
  );
}

/** Resident memory of every process in a process group, MiB. */
export function groupRssMiB(pgid: number): number {
  let kib = 0;
  for (const p of processes().filter((q) => q.pgid === pgid)) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
      kib += Number(match?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kib / 1024;
}
