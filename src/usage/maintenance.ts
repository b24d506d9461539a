import { ensureUsagePartitions, pruneInstances, type Store } from '../store';
import { compactEndedDays } from '../store/reports-compact';
import { sweep } from './sweeper';

export interface MaintenanceOptions {
  store: Store;
  /** A pending row older than this is abandoned whoever owns it (the longest backend deadline plus a grace). */
  olderThanMs: number;
  /** A pending row whose owner has not beaten for this long is abandoned at once (Node instances heartbeat). */
  ownerSilentMs?: number;
  /** Zones whose local days are compacted for reports as they end (default: UTC). */
  reportZones?: readonly string[];
  /** Alerts the webhook never took are posted again. */
  redeliverAlerts?: () => Promise<{ delivered: number; failed: number }>;
  log: (line: string) => void;
  now?: Date;
}

export interface MaintenanceReport {
  partitionsMade: number;
  swept: number;
  /** Local days compacted for reports. */
  daysCompacted: number;
  delivered: number;
  failed: number;
}

/**
 * The periodic work, the same on both runtimes (the Node interval, the Workers cron): the next
 * months' ledger partitions, abandoned pending rows, old rate windows and instances, the local
 * days that ended (compacted for reports), and budget alerts the webhook has not taken yet. Each part runs even if one before it failed.
 */
export async function maintenance(options: MaintenanceOptions): Promise<MaintenanceReport> {
  const now = options.now ?? new Date();
  const report: MaintenanceReport = { partitionsMade: 0, swept: 0, daysCompacted: 0, delivered: 0, failed: 0 };
  const failures: unknown[] = [];
  const step = async (run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      failures.push(error);
    }
  };
  await step(async () => {
    report.partitionsMade = await ensureUsagePartitions(options.store, now);
  });
  await step(async () => {
    report.swept = await sweep(options.store, { olderThanMs: options.olderThanMs, ownerSilentMs: options.ownerSilentMs, now });
  });
  await step(() => pruneInstances(options.store, new Date(now.getTime() - 86_400_000)));
  await step(async () => {
    report.daysCompacted = await compactEndedDays(options.store, options.reportZones ?? ['UTC'], now);
  });
  if (options.redeliverAlerts) {
    await step(async () => {
      Object.assign(report, await options.redeliverAlerts!());
    });
  }
  if (report.swept > 0) options.log(`tollgate: swept ${report.swept} abandoned request(s) as incomplete`);
  if (report.delivered + report.failed > 0)
    options.log(`tollgate: alert webhook redelivery: ${report.delivered} delivered, ${report.failed} still failing`);
  if (failures.length > 0) throw failures[0];
  return report;
}
