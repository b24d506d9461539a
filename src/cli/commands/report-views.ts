/** The reports API's JSON, as far as the CLI prints it. */

export interface Measures {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cost: string;
}

export type Row = Record<string, unknown>;

export interface UsageJson {
  query: { from: string; to: string; tz: string };
  source: string;
  columns: string[];
  rows: Row[];
  totals: Measures;
}

export interface RequestRow {
  startedAt: string;
  requestId: string;
  keyId: string;
  keyName: string | null;
  teamName: string | null;
  model: string;
  status: string;
  promptTokens: number;
  completionTokens: number;
  cost: string;
}

export interface BudgetRow {
  scope: string;
  teamName: string | null;
  keyName: string | null;
  keys: number;
  period: string;
  limit: string | null;
  spent: string;
  reserved: string;
  remaining: string | null;
  utilisationPct: string | null;
  projectedSpend: string | null;
  projectedUtilisationPct: string | null;
  projectedExhaustedAt: string | null;
}

export interface Check {
  name: string;
  ok: boolean;
  description: string;
  compared: number;
  differences: unknown[];
}

export interface ReconcileJson {
  ok: boolean;
  query: { from: string; to: string };
  checks: Check[];
  totals: { ledger: Measures };
}

export interface StatementSummary {
  id: string;
  period: string;
  team: { id: string; name: string; costCenter: string | null } | null;
  totals: Measures;
}

export interface StatementJson extends Omit<StatementSummary, 'totals'> {
  timezone: string;
  periodStart: string;
  periodEnd: string;
  generatedAt: string;
  contentHash: string;
  verified: boolean;
  lines: Row[];
  totals: { usage: Measures; adjustments: Measures; total: Measures };
}

export interface ClosedJson {
  period: string;
  periodStart: string;
  periodEnd: string;
  timezone: string;
  statements: StatementSummary[];
}

export interface PeriodJson {
  period: string;
  timezone: string;
  closedAt: string;
  closedBy: string;
  statements: StatementSummary[];
}

export interface RepriceJson {
  columns: string[];
  rows: Row[];
  unpricedModels: string[];
  totals: { billedCost: string; candidateCost: string; differencePct: string | null };
}
