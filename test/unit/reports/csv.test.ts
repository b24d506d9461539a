import { describe, expect, test } from 'vitest';
import type { Column } from '../../../src/reports/columns';
import { csvCell, csvLine, csvStream, csvText, parseCsv } from '../../../src/reports/csv';

describe('CSV (RFC 4180, safe to open in a spreadsheet)', () => {
  test.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\r\nlines', '"two\r\nlines"'],
    ['=HYPERLINK("http://evil.example","x")', `"'=HYPERLINK(""http://evil.example"",""x"")"`],
    ['+1+1', `"'+1+1"`],
    ['-2+3', `"'-2+3"`],
    ['@SUM(A1)', `"'@SUM(A1)"`],
    ['\tcmd', `"'\tcmd"`],
    ['\rcmd', `"'\rcmd"`],
    ['a=b', 'a=b'],
    ['', ''],
  ])('text %j is written %j', (text, written) => {
    expect(csvText(text)).toBe(written);
    // And reads back as the inert text, never a formula.
    expect(parseCsv(`${written}\r\n`)).toEqual([[/^[=+\-@\t\r]/.test(text) ? `'${text}` : text]]);
  });

  test.each([
    ['money', 1_500_000_000n, '0.0015'],
    ['money', -30_000_000n, '-0.00003'],
    ['integer', 42n, '42'],
    ['boolean', true, 'true'],
    ['instant', '2026-11-01T00:00:00-04:00', '2026-11-01T00:00:00-04:00'],
    ['json', { project: 'a,b' }, '"{""project"":""a,b""}"'],
    ['text', null, ''],
  ] as const)('a %s cell: %s as %s (numbers are never guarded or floats)', (kind, value, written) => {
    expect(csvCell(kind, value)).toBe(written);
  });

  test('a stream is the header, then one chunk per page, CRLF everywhere; the rows read back as written', async () => {
    const columns: Column<{ name: string; cost: bigint }>[] = [
      { name: 'name', kind: 'text', get: (row) => row.name },
      { name: 'cost', kind: 'money', get: (row) => row.cost },
    ];
    async function* pages() {
      yield [{ name: '=cmd|calc', cost: 1n }];
      yield [];
      yield [
        { name: 'b', cost: 0n },
        { name: 'c\nd', cost: 12_340_000_000_000n },
      ];
    }
    const text = await new Response(csvStream(columns, pages())).text();
    expect(text).toBe(`name,cost\r\n"'=cmd|calc",0.000000000001\r\nb,0\r\n"c\nd",12.34\r\n`);
    expect(parseCsv(text)).toEqual([
      ['name', 'cost'],
      ["'=cmd|calc", '0.000000000001'],
      ['b', '0'],
      ['c\nd', '12.34'],
    ]);
    expect(csvLine(columns, { name: 'x', cost: 5n })).toBe('x,0.000000000005\r\n');
  });
});
