import type { Replica } from './replica';

/**
 * The replica for a request's next attempt: the least outstanding requests relative to weight
 * among those that may take one now (healthy or due for a trial, with capacity, not already
 * tried by this request). Equally loaded replicas take turns in proportion to their weights
 * (smooth weighted round-robin), so weights hold under light, sequential traffic too, where every
 * replica has nothing in flight. A full scan, not two random choices: a model has a handful of
 * replicas, and the scan is exact and allocates nothing.
 *
 * With no replica healthy at all (every one ejected, none due for a trial), the least loaded one
 * with capacity is chosen anyway ("panic" routing, as Envoy does): a health verdict can be wrong,
 * and refusing is sure to fail. That is for a request's first attempt only: a retry goes to a
 * replica believed healthy, or not at all. Null: none may take it now (at their in-flight limits,
 * ejected, or already tried).
 *
 * @example
 * const replica = pickReplica(route.replicas, performance.now(), null);
 */
export function pickReplica(replicas: readonly Replica[], now: number, tried: readonly Replica[] | null): Replica | null {
  let best = Number.POSITIVE_INFINITY;
  let anyHealthy = false;
  for (const replica of replicas) {
    if (replica.healthy) anyHealthy = true;
    if (tried?.includes(replica) || !replica.selectable(now)) continue;
    const load = replica.inFlight / replica.weight;
    if (load < best) best = load;
  }
  if (best !== Number.POSITIVE_INFINITY) return turnAmong(replicas, now, tried, best);
  if (anyHealthy || tried !== null) return null;
  return leastLoaded(replicas);
}

/** Smooth weighted round-robin among the selectable replicas carrying `load`. */
function turnAmong(replicas: readonly Replica[], now: number, tried: readonly Replica[] | null, load: number): Replica {
  let total = 0;
  let chosen: Replica | null = null;
  for (const replica of replicas) {
    if (tried?.includes(replica) || !replica.selectable(now) || replica.inFlight / replica.weight !== load) continue;
    replica.current += replica.weight;
    total += replica.weight;
    if (chosen === null || replica.current > chosen.current) chosen = replica;
  }
  chosen!.current -= total;
  return chosen!;
}

function leastLoaded(replicas: readonly Replica[]): Replica | null {
  let chosen: Replica | null = null;
  for (const replica of replicas) {
    if (!replica.hasCapacity) continue;
    if (chosen === null || replica.inFlight / replica.weight < chosen.inFlight / chosen.weight) chosen = replica;
  }
  return chosen;
}
