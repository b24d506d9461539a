import type { StatementLineRecord, StatementRecord, UsageLine } from '../store/statements';
import { type Column, measuresJson, sumMeasures } from './columns';

// A chargeback statement: one team's lines for a closed period (per key and model), adjustment
// lines for late usage of earlier closed periods, totals, and a SHA-256 of its canonical JSON. It
// is issued once and stored as issued; reading it back recomputes the hash, so any edit shows.

export interface StatementTeam {
  id: string;
  name: string;
  costCenter: string | null;
}

export interface StatementDraft {
  id: string;
  period: string;
  timezone: string;
  periodStart: Date;
  periodEnd: Date;
  /** null: usage of keys in no team. */
  team: StatementTeam | null;
  generatedAt: Date;
  usage: readonly UsageLine[];
  adjustments: readonly UsageLine[];
  keyNames: ReadonlyMap<string, string>;
}

/** JSON with object keys sorted at every level: the same document always has the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The hash a statement's content must have. */
export async function contentHash(content: unknown): Promise<string> {
  return sha256Hex(canonicalJson(content));
}

const byLine = (names: ReadonlyMap<string, string>) => (a: UsageLine, b: UsageLine) =>
  a.usagePeriod.localeCompare(b.usagePeriod) ||
  (names.get(a.keyId) ?? '').localeCompare(names.get(b.keyId) ?? '') ||
  a.keyId.localeCompare(b.keyId) ||
  a.model.localeCompare(b.model);

const lineJson = (line: StatementLineRecord, keyName: string) => ({
  lineNo: line.lineNo,
  kind: line.kind,
  usagePeriod: line.usagePeriod,
  keyId: line.keyId,
  keyName,
  model: line.model,
  ...measuresJson(line),
});

/**
 * Numbers a team's lines (usage first, then adjustments by period), totals them and hashes the
 * document.
 *
 * @example const { record, lines } = await issueStatement(draft);
 */
export async function issueStatement(draft: StatementDraft): Promise<{ record: StatementRecord; lines: StatementLineRecord[] }> {
  const order = byLine(draft.keyNames);
  const lines: StatementLineRecord[] = [
    ...[...draft.usage].sort(order).map((line) => ({ ...line, kind: 'usage' as const })),
    ...[...draft.adjustments].sort(order).map((line) => ({ ...line, kind: 'adjustment' as const })),
  ].map((line, i) => ({ ...line, lineNo: i + 1 }));
  const usage = sumMeasures(lines.filter((line) => line.kind === 'usage'));
  const adjustments = sumMeasures(lines.filter((line) => line.kind === 'adjustment'));
  const total = sumMeasures([usage, adjustments]);
  const content = {
    object: 'statement',
    id: draft.id,
    period: draft.period,
    timezone: draft.timezone,
    periodStart: draft.periodStart.toISOString(),
    periodEnd: draft.periodEnd.toISOString(),
    team: draft.team,
    currency: 'USD',
    generatedAt: draft.generatedAt.toISOString(),
    lines: lines.map((line) => lineJson(line, draft.keyNames.get(line.keyId) ?? line.keyId)),
    totals: { usage: measuresJson(usage), adjustments: measuresJson(adjustments), total: measuresJson(total) },
  };
  return {
    record: {
      id: draft.id,
      period: draft.period,
      teamId: draft.team?.id ?? '',
      currency: 'USD',
      totals: total,
      generatedAt: draft.generatedAt,
      content,
      contentHash: await contentHash(content),
    },
    lines,
  };
}

const DOCUMENT_ORDER = [
  'object',
  'id',
  'period',
  'timezone',
  'periodStart',
  'periodEnd',
  'team',
  'currency',
  'generatedAt',
  'lines',
  'totals',
];
const LINE_ORDER = ['lineNo', 'kind', 'usagePeriod', 'keyId', 'keyName', 'model', 'requests', 'promptTokens', 'completionTokens', 'cost'];

/** The document's fields in the order it was issued in (JSONB keeps its own order). */
function inOrder(value: Record<string, unknown>, order: readonly string[]): Record<string, unknown> {
  const known = order.filter((name) => name in value).map((name) => [name, value[name]] as const);
  const rest = Object.entries(value).filter(([name]) => !order.includes(name));
  return Object.fromEntries([...known, ...rest]);
}

/** A stored statement as the API shows it: the document as issued, its hash, and whether the hash still matches. */
export async function statementJson(record: StatementRecord) {
  const document = inOrder(record.content, DOCUMENT_ORDER);
  if (Array.isArray(document.lines))
    document.lines = (document.lines as Record<string, unknown>[]).map((line) => inOrder(line, LINE_ORDER));
  return { ...document, contentHash: record.contentHash, verified: (await contentHash(record.content)) === record.contentHash };
}

interface ContentLine extends Record<string, unknown> {
  lineNo: number;
  kind: string;
  usagePeriod: string;
  keyId: string;
  keyName: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cost: string;
}

/** The lines of an issued statement, from its document. */
export function statementLines(record: StatementRecord): ContentLine[] {
  return (record.content.lines as ContentLine[]) ?? [];
}

/** Statement lines as CSV columns (the statement's own fields repeated on each line, for pivoting). */
export function statementColumns(record: StatementRecord): Column<ContentLine>[] {
  const team = record.content.team as StatementTeam | null;
  return [
    { name: 'statementId', kind: 'text', get: () => record.id },
    { name: 'period', kind: 'text', get: () => record.period },
    { name: 'teamId', kind: 'text', get: () => team?.id ?? null },
    { name: 'teamName', kind: 'text', get: () => team?.name ?? null },
    { name: 'costCenter', kind: 'text', get: () => team?.costCenter ?? null },
    { name: 'lineNo', kind: 'integer', get: (line) => line.lineNo },
    { name: 'kind', kind: 'text', get: (line) => line.kind },
    { name: 'usagePeriod', kind: 'text', get: (line) => line.usagePeriod },
    { name: 'keyId', kind: 'text', get: (line) => line.keyId },
    { name: 'keyName', kind: 'text', get: (line) => line.keyName },
    { name: 'model', kind: 'text', get: (line) => line.model },
    { name: 'requests', kind: 'integer', get: (line) => line.requests },
    { name: 'promptTokens', kind: 'integer', get: (line) => line.promptTokens },
    { name: 'completionTokens', kind: 'integer', get: (line) => line.completionTokens },
    // Already a decimal string in the document.
    { name: 'cost', kind: 'decimal', get: (line) => line.cost },
  ];
}
