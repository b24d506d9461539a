/**
 * Hands the event loop back between slices of a long count. setImmediate where it exists
 * (Node: runs before timers, no 1 ms clamp); scheduler.yield or setTimeout(0) elsewhere
 * (Cloudflare Workers, browsers). Feature-detected so nothing Node-only is required.
 */
type Scheduler = { yield?: () => Promise<void> };

export function yieldToEventLoop(): Promise<void> {
  const host = globalThis as { setImmediate?: (run: () => void) => unknown; scheduler?: Scheduler };
  if (typeof host.setImmediate === 'function') {
    const setImmediate = host.setImmediate;
    return new Promise((resolve) => setImmediate(resolve));
  }
  if (typeof host.scheduler?.yield === 'function') return host.scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}
