import { describe, expect, test } from 'vitest';
import { canonicalJson, contentHash, issueStatement, statementJson } from '../../../src/reports/statement';
import { statementHtml } from '../../../src/reports/statement-html';

const line = (keyId: string, model: string, cost: bigint, usagePeriod = '2026-10') => ({
  usagePeriod,
  teamId: 'team_a',
  keyId,
  model,
  requests: 2n,
  promptTokens: 100n,
  completionTokens: 10n,
  cost,
});

const draft = {
  id: 'stmt_202611_x',
  period: '2026-11',
  timezone: 'UTC',
  periodStart: new Date('2026-11-01T00:00:00Z'),
  periodEnd: new Date('2026-12-01T00:00:00Z'),
  team: { id: 'team_a', name: '<b>Search</b> & Co', costCenter: 'CC-1' },
  generatedAt: new Date('2026-12-02T00:00:00Z'),
  usage: [line('key_b', 'gpt-4', 3_000_000_000n, '2026-11'), line('key_a', 'gpt-4', 1_000_000_000n, '2026-11')],
  adjustments: [line('key_a', 'gpt-4', 7n)],
  keyNames: new Map([
    ['key_a', 'alpha'],
    ['key_b', '=cmd()'],
  ]),
};

describe('statements', () => {
  test('canonical JSON does not depend on key order; the hash does depend on every value', async () => {
    expect(canonicalJson({ b: 1, a: [{ y: 2, x: null }] })).toBe(canonicalJson({ a: [{ x: null, y: 2 }], b: 1 }));
    expect(await contentHash({ a: 1, b: 2 })).toBe(await contentHash({ b: 2, a: 1 }));
    expect(await contentHash({ a: 1 })).not.toBe(await contentHash({ a: 2 }));
  });

  test('usage lines first (by key name), then adjustments; totals add up; the document verifies', async () => {
    const { record, lines } = await issueStatement(draft);
    expect(lines.map((l) => [l.lineNo, l.kind, l.keyId, l.usagePeriod])).toEqual([
      [1, 'usage', 'key_b', '2026-11'],
      [2, 'usage', 'key_a', '2026-11'],
      [3, 'adjustment', 'key_a', '2026-10'],
    ]);
    expect(record.totals).toEqual({ requests: 6n, promptTokens: 300n, completionTokens: 30n, cost: 4_000_000_007n });
    expect(record.content.totals).toEqual({
      usage: { requests: 4, promptTokens: 200, completionTokens: 20, cost: '0.004' },
      adjustments: { requests: 2, promptTokens: 100, completionTokens: 10, cost: '0.000000000007' },
      total: { requests: 6, promptTokens: 300, completionTokens: 30, cost: '0.004000000007' },
    });
    // Read back as stored (JSONB reorders keys): still verified; edited: not.
    const stored = JSON.parse(canonicalJson(record.content)) as Record<string, unknown>;
    expect(await statementJson({ ...record, content: stored })).toMatchObject({ verified: true, contentHash: record.contentHash });
    const edited = { ...stored, totals: { ...(stored.totals as object), total: { cost: '0' } } };
    expect(await statementJson({ ...record, content: edited })).toMatchObject({ verified: false });
  });

  test('the printable page escapes every name and runs nothing', async () => {
    const { record } = await issueStatement(draft);
    const html = statementHtml(record, true);
    expect(html).toContain('&lt;b&gt;Search&lt;/b&gt; &amp; Co');
    expect(html).not.toContain('<b>Search');
    expect(html).not.toMatch(/<script|src=|href=/i);
    expect(html).toContain('$0.004000000007');
  });
});
