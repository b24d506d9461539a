import { parseUsd } from '../../../src/pricing';

/** Calls the admin API with the operator token (TestGateway.admin and TestApp.admin both are one). */
export type Admin = (method: string, path: string, body?: unknown) => Promise<Response>;

/** A ledger row as `GET /admin/requests/:id` shows it to an operator. */
export interface LedgerRow {
  requestId: string;
  keyId: string;
  status: string;
  endpoint: string;
  routedModel: string | null;
  stream: boolean;
  promptTokensEstimated: number | null;
  maxCompletionTokens: number | null;
  promptTokens: number;
  completionTokens: number;
  completionTokensEstimated: number | null;
  usageSource: string;
  usageNote: string | null;
  reservedCost: string;
  billedCost: string;
  overReservation: boolean;
  errorCode: string | null;
  price: { promptPer1k: string; completionPer1k: string } | null;
}

/** A key's budget as `GET /admin/keys/:id/budget` shows it. */
export interface BudgetView {
  limit: string | null;
  spent: string;
  reserved: string;
  remaining: string | null;
  spentTokens: number;
  reservedTokens: number;
}

/** A request's row once it is final: flushes the ledger and waits for the relay to report (a client that left is noticed a little later). */
export async function finalRow(admin: Admin, flush: () => Promise<void>, requestId: string, keyId: string): Promise<LedgerRow> {
  for (let tries = 0; ; tries++) {
    await flush();
    const response = await admin('GET', `/admin/requests/${encodeURIComponent(requestId)}?keyId=${keyId}`);
    if (response.status === 200) {
      const row = (await response.json()) as LedgerRow;
      if (row.status !== 'pending') return row;
    } else if (response.status !== 404) throw new Error(`GET /admin/requests/${requestId}: ${response.status} ${await response.text()}`);
    if (tries >= 200) throw new Error(`request ${requestId} of ${keyId} has no final row`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function budgetOf(admin: Admin, keyId: string): Promise<BudgetView> {
  const response = await admin('GET', `/admin/keys/${keyId}/budget`);
  if (response.status !== 200) throw new Error(`GET budget of ${keyId}: ${response.status} ${await response.text()}`);
  return (await response.json()) as BudgetView;
}

/** The budget once nothing is reserved any more (every admitted request of the key has its final row). */
export async function settledBudget(admin: Admin, flush: () => Promise<void>, keyId: string): Promise<BudgetView> {
  for (let tries = 0; ; tries++) {
    await flush();
    const budget = await budgetOf(admin, keyId);
    if (budget.reserved === '0' || tries >= 200) return budget;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Sets a money budget (period `total` unless told) and fails the test if the admin API refuses it. */
export async function setBudget(admin: Admin, keyId: string, limit: string, period = 'total'): Promise<void> {
  const response = await admin('PUT', `/admin/keys/${keyId}/budget`, { limit, period });
  if (response.status !== 200) throw new Error(`PUT budget of ${keyId}: ${response.status} ${await response.text()}`);
}

/** What a row's token counts cost at its own price, in picodollars (the ledger's rule: floor per side). */
export function costAtRowPrice(row: LedgerRow): bigint {
  if (!row.price) return 0n;
  const prompt = (BigInt(row.promptTokens) * parseUsd(row.price.promptPer1k)) / 1000n;
  const completion = (BigInt(row.completionTokens) * parseUsd(row.price.completionPer1k)) / 1000n;
  return prompt + completion;
}

/** An OpenAI-shaped error body's `error`. */
export async function errorOf(
  response: Response,
): Promise<{ status: number; message: string; type: string; param: string | null; code: string | null }> {
  const body = (await response.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
  return { status: response.status, ...body.error };
}
