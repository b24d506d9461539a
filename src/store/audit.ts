import { type SQL, sql } from 'drizzle-orm';
import type { Executor, Store } from './db';
import { inList } from './reports-usage';
import type { AuditAction } from './schema';
import { epochMs } from './windows';

export interface AuditEntry {
  /** `operator`, or the acting key's id. */
  actor: string;
  action: AuditAction;
  /** The id acted on. */
  target: string | null;
  /** What changed (never a secret or a hash). */
  detail?: Record<string, unknown>;
  requestId?: string | null;
}

export interface AuditRecord extends Required<AuditEntry> {
  id: number;
  at: Date;
}

/**
 * Appends to the audit log; run it in the transaction of the change it records, so one is never
 * without the other.
 *
 * @example await recordAudit(tx, { actor: 'operator', action: 'team.create', target: team.id, detail: { name } })
 */
export async function recordAudit(ex: Executor, entry: AuditEntry): Promise<void> {
  await ex.rows(sql`
    INSERT INTO audit_log (actor, action, target, detail, request_id)
    VALUES (${entry.actor}, ${entry.action}, ${entry.target}, ${JSON.stringify(entry.detail ?? {})}::jsonb, ${entry.requestId ?? null})`);
}

interface Row extends Record<string, unknown> {
  id: string;
  at_ms: number;
  actor: string;
  action: AuditAction;
  target: string | null;
  detail: Record<string, unknown> | string;
  request_id: string | null;
}

/** Entries in [from, to), newest first, `before` an id (the cursor), optionally of some actions. */
export async function listAudit(
  ex: Executor,
  query: { from: Date; to: Date; actions?: string[]; before?: number; limit: number },
): Promise<AuditRecord[]> {
  const where: SQL[] = [sql`at >= ${query.from.toISOString()}::timestamptz`, sql`at < ${query.to.toISOString()}::timestamptz`];
  if (query.actions) where.push(inList(sql`action`, query.actions));
  if (query.before !== undefined) where.push(sql`id < ${query.before}::bigint`);
  const rows = await ex.rows<Row>(sql`
    SELECT id::text AS id, ${epochMs(sql`at`)} AS at_ms, actor, action, target, detail, request_id
    FROM audit_log WHERE ${sql.join(where, sql` AND `)} ORDER BY id DESC LIMIT ${query.limit}::int`);
  return rows.map((row) => ({
    id: Number(row.id),
    at: new Date(Number(row.at_ms)),
    actor: row.actor,
    action: row.action,
    target: row.target,
    detail: typeof row.detail === 'string' ? (JSON.parse(row.detail) as Record<string, unknown>) : row.detail,
    requestId: row.request_id,
  }));
}

/**
 * An admin change and its audit row in one transaction (raw statements and the query builder both
 * work on it, on either driver).
 *
 * @example await auditedChange(store, async (tx) => { await createTeam(tx, team); await recordAudit(tx, entry); })
 */
export function auditedChange<T>(store: Store, body: (tx: Executor) => Promise<T>): Promise<T> {
  return store.transaction(body);
}
