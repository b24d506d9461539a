export { pickReplica } from './balance';
export { type ProbeOptions, ReplicaPool, RouteTable, routeOptions } from './pool';
export { ActiveProbes, checkServedContext, probeReplica, unservableModels } from './probe';
export { FairQueue } from './queue';
export { type HealthPolicy, Replica } from './replica';
export { refusedUntried, retryAfterMs } from './retry';
export { type BackendObserver, ModelRoute, type RetryReason, type RouteContext, type RouteOptions } from './route';
