import type { Config } from './schema';

/** The environment maintenance reads, on Node and on Workers alike. */
export interface MaintenanceEnv {
  /** Extra age, beyond the longest backend timeout, after which a pending row is abandoned whoever owns it. */
  TOLLGATE_SWEEP_GRACE_MS?: string;
  /** Comma-separated IANA zones whose ended days are compacted for reports (default UTC). */
  TOLLGATE_REPORT_ZONES?: string;
}

/**
 * What maintenance needs from the config and the environment: when a pending row is abandoned
 * whoever owns it (no request can still settle past the longest backend deadline plus a grace),
 * and the zones finance reads reports in.
 *
 * @example maintenanceSettings(config, process.env) // { olderThanMs: 630000, reportZones: ['UTC'] }
 */
export function maintenanceSettings(config: Config, env: MaintenanceEnv): { olderThanMs: number; reportZones: string[] } {
  const longestTimeout = Math.max(...Object.values(config.backends).map((backend) => backend.timeoutMs));
  const zones = (env.TOLLGATE_REPORT_ZONES ?? 'UTC')
    .split(',')
    .map((zone) => zone.trim())
    .filter(Boolean);
  return { olderThanMs: longestTimeout + Number(env.TOLLGATE_SWEEP_GRACE_MS ?? 30_000), reportZones: zones.length > 0 ? zones : ['UTC'] };
}
