import type { Command } from '../command';
import { keyValues, table } from '../format';

interface AlertView {
  keyId: string;
  kind: string;
  periodStart: string;
  createdAt: string;
  [detail: string]: unknown;
}

const alerts: Command = {
  path: ['alerts'],
  summary: 'List budget alerts (soft threshold reached, budget exhausted)',
  async run({ client, out }) {
    const result = await client.request<{ data: AlertView[] }>('GET', '/admin/alerts');
    if (out.json) return out.printJson(result);
    if (result.data.length === 0) return out.line('No alerts.');
    out.lines(
      table(
        ['KEY', 'KIND', 'PERIOD START', 'CREATED', 'DETAIL'],
        result.data.map(({ keyId, kind, periodStart, createdAt, ...detail }) => [keyId, kind, periodStart, createdAt, keyValues(detail)]),
      ),
    );
  },
};

export const alertCommands: readonly Command[] = [alerts];
