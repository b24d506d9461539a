import { join } from 'node:path';
import { ConfigError } from '../config';
import { DEFAULT_DATA_DIR } from '../store/open';
import type { DatabaseTimeouts } from '../store/postgres';

/** The Node entry's database deadlines, liveness and journal settings, from the environment. */
export interface NodeSettings {
  database: DatabaseTimeouts;
  /** Admission round trip (TOLLGATE_ADMISSION_TIMEOUT_MS): past it 503 `ledger_unavailable`, or fail-open. */
  admissionTimeoutMs: number;
  /** One ledger write batch (TOLLGATE_LEDGER_WRITE_TIMEOUT_MS): past it the batch is retried. */
  writeTimeoutMs: number;
  /** How long a final row waits for company before its batch is written (TOLLGATE_LEDGER_FLUSH_MS). */
  flushIntervalMs: number;
  /** Auth's key lookup (TOLLGATE_DB_LOOKUP_TIMEOUT_MS). */
  lookupTimeoutMs: number;
  /** `/readyz`'s database probe (TOLLGATE_READY_TIMEOUT_MS). */
  readyTimeoutMs: number;
  /** After SIGTERM, unready but still serving this long before the listener closes (TOLLGATE_DRAIN_DELAY_MS). */
  drainDelayMs: number;
  heartbeatMs: number;
  /** An instance silent this long is gone (TOLLGATE_OWNER_SILENT_MS, default 3 heartbeats). */
  ownerSilentMs: number;
  /** Where fail-open rows wait for the database (TOLLGATE_JOURNAL_DIR, default `<data dir>/journal`). */
  journalDir: string;
  /**
   * Connections to Postgres (TOLLGATE_DB_POOL, default 10): the most statements this instance has
   * in flight at once. More helps only while the server has idle cores: past them, admissions
   * queue on the server's locks instead of in the pool (bench/admission.ts).
   */
  poolSize: number;
  /**
   * Budget leases (TOLLGATE_LEASE_MS, default 0: off): admissions against a slice of the key's
   * budget held by this instance, re-read from the database at most this often (README: "Budget leases").
   */
  leaseMs: number;
  /** A backend connection not made within this long fails as unreachable (TOLLGATE_UPSTREAM_CONNECT_TIMEOUT_MS, 0: none). */
  upstreamConnectTimeoutMs: number;
}

/**
 * Reads the settings, every one with a default; a value that is not a whole number of
 * milliseconds is a ConfigError naming the variable.
 *
 * @example
 * const settings = nodeSettings(process.env);
 */
export function nodeSettings(env: NodeJS.ProcessEnv): NodeSettings {
  const ms = (name: string, fallback: number, least = 0): number => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < least)
      throw new ConfigError(`${name} must be a whole number of milliseconds${least > 0 ? ` (at least ${least})` : ''}, not "${text}"`);
    return value;
  };
  const count = (name: string, fallback: number): number => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a whole number, at least 1, not "${text}"`);
    return value;
  };
  const statementTimeoutMs = ms('TOLLGATE_DB_STATEMENT_TIMEOUT_MS', 10_000);
  const heartbeatMs = ms('TOLLGATE_HEARTBEAT_MS', 2_000, 1);
  return {
    database: {
      connectTimeoutMs: ms('TOLLGATE_DB_CONNECT_TIMEOUT_MS', 5_000),
      statementTimeoutMs,
      deadlineMs: ms('TOLLGATE_DB_DEADLINE_MS', statementTimeoutMs > 0 ? statementTimeoutMs + 5_000 : 15_000),
      idleTimeoutMs: ms('TOLLGATE_DB_IDLE_TIMEOUT_MS', 60_000),
      maxLifetimeMs: ms('TOLLGATE_DB_MAX_LIFETIME_MS', 0) || undefined,
    },
    admissionTimeoutMs: ms('TOLLGATE_ADMISSION_TIMEOUT_MS', 5_000),
    writeTimeoutMs: ms('TOLLGATE_LEDGER_WRITE_TIMEOUT_MS', 20_000),
    flushIntervalMs: ms('TOLLGATE_LEDGER_FLUSH_MS', 20),
    lookupTimeoutMs: ms('TOLLGATE_DB_LOOKUP_TIMEOUT_MS', 2_000),
    readyTimeoutMs: ms('TOLLGATE_READY_TIMEOUT_MS', 1_000),
    drainDelayMs: ms('TOLLGATE_DRAIN_DELAY_MS', 0),
    heartbeatMs,
    ownerSilentMs: ms('TOLLGATE_OWNER_SILENT_MS', 3 * heartbeatMs, 1),
    journalDir: env.TOLLGATE_JOURNAL_DIR || join(env.TOLLGATE_DATA_DIR || DEFAULT_DATA_DIR, 'journal'),
    poolSize: count('TOLLGATE_DB_POOL', 10),
    leaseMs: ms('TOLLGATE_LEASE_MS', 0),
    upstreamConnectTimeoutMs: ms('TOLLGATE_UPSTREAM_CONNECT_TIMEOUT_MS', 5_000),
  };
}
