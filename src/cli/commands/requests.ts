import { path } from '../client';
import type { Command } from '../command';
import { fields } from '../format';

const requestsShow: Command = {
  path: ['requests', 'show'],
  args: ['REQUEST_ID'],
  summary: 'Show the ledger row of one request (tokens, cost, status, timings)',
  examples: ['tollgate requests show req_3f2a…  # the x-request-id header of a response'],
  async run({ args, client, out }) {
    const [requestId] = args as [string];
    const row = await client.request<Record<string, unknown>>('GET', path`/admin/requests/${requestId}`);
    if (out.json) return out.printJson(row);
    out.line(`Request ${requestId}:`);
    // The row's columns grow with the ledger, so print whatever fields it has, in its order.
    out.lines(
      fields(
        Object.entries(row).map(([name, value]) => [
          name,
          typeof value === 'object' && value !== null ? JSON.stringify(value) : (value as string | number | boolean | null),
        ]),
      ),
    );
  },
};

export const requestCommands: readonly Command[] = [requestsShow];
