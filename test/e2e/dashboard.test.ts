import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { count, usd } from '../../src/http/dashboard/format';
import { picodollarsOf } from '../../src/reports/overview';
import { ADMIN_TOKEN, launchChromium, PHONE, SCREENSHOTS, type SeededGateway, screenshots, seedGateway, signIn } from './dashboard-support';

// The dashboard in headless Chromium over a seeded gateway: what the pages draw is what the
// reports API answers for the same filters (read from the marks' data-* values, not just their
// presence), CSV buttons download the API's own CSV, a team-limited key finds no trace of another
// team, and the operator's budget change binds the gateway's next request. Screenshots of every
// page at laptop and phone width land in test-artifacts/dashboard/ (gitignored).

let seeded: SeededGateway;
let chrome: Awaited<ReturnType<typeof launchChromium>>;
let browser: Browser;

beforeAll(async () => {
  [seeded, chrome] = await Promise.all([seedGateway(), launchChromium()]);
  browser = chrome.browser;
}, 120_000);

afterAll(async () => {
  await chrome?.close();
  await seeded?.close();
});

/** The reports API as a bearer client (the finance key unless told otherwise). */
async function api<T = any>(path: string, token = seeded.keys.finance.key): Promise<T> {
  const response = await fetch(`${seeded.gateway.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status, path).toBe(200);
  return ((response.headers.get('content-type') ?? '').startsWith('text/csv') ? response.text() : response.json()) as Promise<T>;
}

interface Mark {
  bucket: string;
  series: string;
  cost: string;
}

/** The marks of the (wide) spend chart, as the page gave them. */
const chartMarks = (page: Page): Promise<Mark[]> =>
  page.$$eval('svg[data-chart=spend] rect[data-series]', (rects) =>
    rects.map((rect) => ({ bucket: rect.dataset.bucket!, series: rect.dataset.series!, cost: rect.dataset.cost! })),
  );

/** What the chart must hold: the API's rows for the same query, one mark per (bucket, series). */
function expectedMarks(rows: Record<string, any>[], series: 'model' | 'teamId'): Mark[] {
  return rows.map((row) => ({ bucket: row.bucketStart, series: row.other ? 'other' : (row[series] ?? 'none'), cost: row.cost }));
}

const sorted = (marks: Mark[]) => [...marks].sort((a, b) => `${a.bucket}${a.series}`.localeCompare(`${b.bucket}${b.series}`));

/** Data attributes of every element matching `selector`. */
const dataOf = (page: Page, selector: string) =>
  page.$$eval(selector, (elements) => elements.map((element) => ({ ...(element as HTMLElement).dataset })));

/** Clicks a CSV button and returns the file the browser saved. */
async function download(page: Page, selector: string): Promise<{ text: string; href: string }> {
  const href = (await page.getAttribute(selector, 'href'))!;
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  return { text: readFileSync((await file.path())!, 'utf8'), href };
}

describe('a reports key on the dashboard', () => {
  test('the overview draws the ledger: every mark, total and row is what the reports API says', async () => {
    const { context, page } = await signIn(browser, seeded.gateway.url, seeded.keys.finance.key);
    try {
      // The default view: this month (November 2026 by the gateway's clock), by day, stacked by model.
      const month = 'from=2026-11-01&to=2026-12-01&tz=UTC';
      const spend = await api(`/reports/usage?${month}&bucket=day&groupBy=model&top=6`);
      expect(spend.rows.length).toBeGreaterThan(20);
      expect(sorted(await chartMarks(page))).toEqual(sorted(expectedMarks(spend.rows, 'model')));
      // Every day of November is a column, empty ones included, each with its total as its accessible name.
      const columns = await dataOf(page, 'svg[data-chart=spend] g.bucket');
      expect(columns).toHaveLength(30);
      expect(columns[0]).toMatchObject({ bucket: '2026-11-01T00:00:00Z' });
      expect(columns.slice(20).every((column) => column.total === '0')).toBe(true);

      const totals = spend.totals;
      const kpis = Object.fromEntries((await dataOf(page, '[data-kpi]')).map((kpi) => [kpi.kpi, kpi.value]));
      expect(kpis.cost).toBe(totals.cost);
      expect(kpis.tokens).toBe(String(totals.promptTokens + totals.completionTokens));
      expect(kpis['cost-per-request']).toBe(formatPico(picodollarsOf(totals.cost) / BigInt(totals.requests)));
      const october = (await api(`/reports/usage?from=2026-10-01&to=2026-11-01&tz=UTC`)).totals;
      const change = ((picodollarsOf(totals.cost) - picodollarsOf(october.cost)) * 10_000n) / picodollarsOf(october.cost);
      expect(kpis.change).toBe(`+${change / 100n}.${String(change % 100n).padStart(2, '0')}`);

      const keys = await api(`/reports/usage?${month}&groupBy=key&top=10`);
      expect(await dataOf(page, '[data-table=keys] tbody tr')).toEqual(
        keys.rows.map((row: any) => ({ row: row.other ? 'other' : row.keyId, cost: row.cost })),
      );
      const teams = await api(`/reports/usage?${month}&groupBy=team&top=10`);
      expect(await dataOf(page, '[data-table=teams] tbody tr')).toEqual(
        teams.rows.map((row: any) => ({ row: row.other ? 'other' : (row.teamId ?? 'none'), cost: row.cost })),
      );
      const models = await api(`/reports/usage?${month}&groupBy=model`);
      expect(await dataOf(page, '[data-table=models] tbody tr')).toEqual(
        models.rows.map((row: any) => ({ row: row.model, cost: row.cost })),
      );
      const tokenBars = await dataOf(page, '[data-table=models] rect[data-model]');
      expect(tokenBars).toEqual(
        models.rows.flatMap((row: any) => [
          { model: row.model, promptTokens: String(row.promptTokens) },
          { model: row.model, completionTokens: String(row.completionTokens) },
        ]),
      );

      // From the chart's CSV button, one Tab reaches the first column, named by its numbers.
      await page.focus('a[aria-label="Download CSV: spend per day by model"]');
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
      const first = spend.rows.filter((row: any) => row.bucketStart === '2026-11-01T00:00:00Z');
      expect(focused).toContain(`Nov 1: ${usd(formatPico(first.reduce((sum: bigint, row: any) => sum + picodollarsOf(row.cost), 0n)))}`);
      // At phone width the narrow drawing shows, with the same marks; the wide one is gone (display: none).
      await page.setViewportSize(PHONE);
      expect(await page.isVisible('svg[data-chart=spend-narrow]')).toBe(true);
      expect(await page.isVisible('svg[data-chart=spend]')).toBe(false);
      const narrow = await page.$$eval('svg[data-chart=spend-narrow] rect[data-series]', (rects) =>
        rects.map((rect) => ({ bucket: rect.dataset.bucket!, series: rect.dataset.series!, cost: rect.dataset.cost! })),
      );
      expect(sorted(narrow)).toEqual(sorted(expectedMarks(spend.rows, 'model')));
      await page.setViewportSize({ width: 1366, height: 900 });
      await screenshots(page, 'overview');
    } finally {
      await context.close();
    }
  });

  test('filters live in the URL; changing them changes the numbers to what the API answers for them', async () => {
    const { context, page } = await signIn(browser, seeded.gateway.url, seeded.keys.finance.key);
    try {
      await page.selectOption('select[name=team]', { label: 'Search' });
      await page.fill('input[name=tz]', 'America/New_York');
      await page.selectOption('select[name=bucket]', 'week');
      await Promise.all([page.waitForURL(/bucket=week/), page.click('form.filters button[type=submit]')]);
      const url = new URL(page.url());
      expect(Object.fromEntries(url.searchParams)).toEqual({
        from: '2026-11-01',
        to: '2026-12-01',
        tz: 'America/New_York',
        team: seeded.teams.search,
        bucket: 'week',
        stack: 'model',
      });
      const query = `from=2026-11-01&to=2026-12-01&tz=America/New_York&team=${seeded.teams.search}`;
      const weekly = await api(`/reports/usage?${query}&bucket=week&groupBy=model&top=6`);
      expect(weekly.rows[0].bucketStart).toBe('2026-11-01T00:00:00-04:00');
      expect(sorted(await chartMarks(page))).toEqual(sorted(expectedMarks(weekly.rows, 'model')));
      expect((await dataOf(page, '[data-kpi=cost]'))[0]!.value).toBe(weekly.totals.cost);
      const everyone = await api('/reports/usage?from=2026-11-01&to=2026-12-01&tz=America/New_York');
      expect(weekly.totals.cost).not.toBe(everyone.totals.cost);

      // The URL is the view: opened afresh (a bookmark, a shared link) it draws the same.
      const again = await context.newPage();
      await again.goto(page.url());
      expect(sorted(await chartMarks(again))).toEqual(sorted(expectedMarks(weekly.rows, 'model')));
      await again.close();

      // Stacked by team, then a tag filter instead of the team.
      await Promise.all([page.waitForURL(/stack=team/), page.click('text=Stack by team')]);
      const byTeam = await api(`/reports/usage?${query}&bucket=week&groupBy=team&top=6`);
      expect(sorted(await chartMarks(page))).toEqual(sorted(expectedMarks(byTeam.rows, 'teamId')));
      await page.selectOption('select[name=team]', '');
      await page.fill('input[name="tag:project"]', 'ads');
      await Promise.all([page.waitForURL(/tag%3Aproject=ads|tag:project=ads/), page.click('form.filters button[type=submit]')]);
      expect(new URL(page.url()).searchParams.has('team')).toBe(false);
      const ads = await api(
        '/reports/usage?from=2026-11-01&to=2026-12-01&tz=America/New_York&tag:project=ads&bucket=week&groupBy=team&top=6',
      );
      expect(ads.totals.cost).not.toBe('0');
      expect(sorted(await chartMarks(page))).toEqual(sorted(expectedMarks(ads.rows, 'teamId')));
      expect((await dataOf(page, '[data-kpi=cost]'))[0]!.value).toBe(ads.totals.cost);
    } finally {
      await context.close();
    }
  });

  test("every CSV button downloads exactly the API's CSV for the same filters", async () => {
    const { context, page } = await signIn(browser, seeded.gateway.url, seeded.keys.finance.key);
    try {
      await page.goto(`/dashboard?from=2026-11-01&to=2026-12-01&tz=Asia/Kolkata&team=${seeded.teams.search}&bucket=day&stack=model`);
      const links = await page.$$eval('a[data-csv]', (anchors) => anchors.map((anchor) => anchor.getAttribute('data-csv')!));
      expect(links).toHaveLength(5); // totals, spend per day, top keys, top teams, per model
      for (const href of links) {
        const file = await download(page, `a[data-csv="${href}"]`);
        expect(file.href).toContain(`team=${seeded.teams.search}`);
        expect(file.text, href).toBe(await api<string>(href));
        expect(file.text.split('\r\n')[0]).toMatch(/cost/);
      }
      for (const [path, selector] of [
        ['/dashboard/requests?from=2026-11-01&to=2026-12-01&model=gpt-4-32k', 'a[data-csv]'],
        ['/dashboard/budgets', 'a[data-csv]'],
        ['/dashboard/statements', 'a[data-csv^="/reports/statements/"]'],
      ] as const) {
        await page.goto(path);
        const file = await download(page, selector);
        expect(file.text, path).toBe(await api<string>(file.href));
        expect(file.text.split('\r\n').length, path).toBeGreaterThan(2);
      }
    } finally {
      await context.close();
    }
  });

  test("requests page through the API's cursor, and a row opens to its details", async () => {
    const { context, page } = await signIn(browser, seeded.gateway.url, seeded.keys.finance.key);
    try {
      await page.goto('/dashboard/requests?from=2026-10-01&to=2026-12-01');
      const rowsOn = async () => (await dataOf(page, '[data-table=requests] tbody tr[data-request]')).map((row) => row.request);
      const first = await api('/reports/requests?from=2026-10-01&to=2026-12-01&tz=UTC&order=desc&limit=50');
      expect(await rowsOn()).toEqual(first.data.map((row: any) => row.requestId));
      await Promise.all([page.waitForURL(/cursor=/), page.click('a[rel=next]')]);
      const second = await api(`/reports/requests?from=2026-10-01&to=2026-12-01&tz=UTC&order=desc&limit=50&cursor=${first.nextCursor}`);
      expect(await rowsOn()).toEqual(second.data.map((row: any) => row.requestId));
      expect(second.hasMore).toBe(false);
      expect(await page.isVisible('text=End of the listing.')).toBe(true);

      const row = second.data[3];
      await Promise.all([page.waitForURL(/open=/), page.click(`tr[data-request="${row.requestId}"] a`)]);
      const detail = await api(`/reports/requests/${row.requestId}?key=${row.keyId}`);
      const field = (name: string) => page.textContent(`[data-detail="${row.requestId}"] [data-field=${name}]`);
      expect(await field('promptTokensEstimated')).toBe(count(detail.promptTokensEstimated));
      expect(await field('promptTokens')).toBe(count(detail.promptTokens));
      expect(await field('completionTokens')).toBe(count(detail.completionTokens));
      expect(await field('cost')).toBe(usd(detail.cost));
      expect(await field('reservedCost')).toBe(usd(detail.reservedCost));
      expect(await field('usageSource')).toBe(detail.usageSource);
      expect(await field('price')).toContain(`#${detail.price.id}: ${usd(detail.price.promptPer1k)}`);
      expect(await field('status')).toBe('ok');
      expect(await page.getAttribute(`tr[data-request="${row.requestId}"] a`, 'aria-expanded')).toBe('true');
      await screenshots(page, 'requests');
    } finally {
      await context.close();
    }
  });

  test('a link from another site lands on its page, signed in, though SameSite=Strict held the cookie back', async () => {
    const { context } = await signIn(browser, seeded.gateway.url, seeded.keys.finance.key);
    try {
      const elsewhere = await context.newPage();
      const loads: string[] = [];
      elsewhere.on('request', (request) => request.resourceType() === 'document' && loads.push(request.url()));
      await elsewhere.setContent(`<a href="${seeded.gateway.url}/dashboard/budgets?tz=UTC">the budgets</a>`);
      await elsewhere.click('a');
      await elsewhere.waitForSelector('h1:has-text("Budgets")');
      expect(elsewhere.url()).toBe(`${seeded.gateway.url}/dashboard/budgets?tz=UTC`);
      // Once without the cookie (cross-site), once from the page itself, with it.
      expect(loads).toEqual([`${seeded.gateway.url}/dashboard/budgets?tz=UTC`, `${seeded.gateway.url}/dashboard/budgets?tz=UTC`]);
    } finally {
      await context.close();
    }
  });

  test('statements: closed periods and their statements, printable', async () => {
    const { context, page } = await signIn(browser, seeded.gateway.url, seeded.keys.finance.key);
    try {
      await page.goto('/dashboard/statements');
      const listed = await api('/reports/statements');
      expect((await dataOf(page, 'tr[data-statement]')).map((row) => row.statement)).toEqual(listed.data.map((s: any) => s.id));
      await screenshots(page, 'statements');
      const search = listed.data.find((s: any) => s.team?.name === 'Search');
      await page.click(`a[href="/dashboard/statements/${search.id}"]`);
      const statement = await api(`/reports/statements/${search.id}`);
      expect(await dataOf(page, 'tr[data-line]')).toEqual(
        statement.lines.map((line: any) => ({ line: String(line.lineNo), cost: line.cost })),
      );
      expect((await dataOf(page, 'tr[data-total=total]'))[0]!.cost).toBe(statement.totals.total.cost);
      expect(await page.getAttribute('[data-verified]', 'data-verified')).toBe('true');
      await screenshots(page, 'statement');
      // Printed, the statement is all there is: no navigation, no buttons.
      await page.emulateMedia({ media: 'print' });
      expect(await page.isVisible('header.top')).toBe(false);
      expect(await page.isVisible('a[data-csv]')).toBe(false);
      expect(await page.isVisible('tr[data-total=total]')).toBe(true);
      await page.pdf({ path: join(SCREENSHOTS, 'statement-print.pdf'), format: 'A4' });
    } finally {
      await context.close();
    }
  });
});

describe('a team-limited reports key', () => {
  test('finds no trace of another team on any page, filter, detail or download', async () => {
    const { context, page } = await signIn(browser, seeded.gateway.url, seeded.keys.financeSearch.key);
    const adsStatement = (await api('/reports/statements')).data.find((s: any) => s.team?.name === 'Ads').id;
    const traces = [
      seeded.teams.ads,
      'Ads',
      'CC-4200',
      seeded.keys.ads.id,
      'ads-ranker',
      seeded.keys.loose.id,
      'loose-script',
      'project=ads',
      'Keys in no team',
      adsStatement,
    ];
    const seen: string[] = [];
    try {
      for (const path of [
        '/dashboard',
        '/dashboard?stack=team',
        '/dashboard?from=2026-10-01&to=2026-11-01&stack=team',
        '/dashboard/budgets',
        '/dashboard/requests?from=2026-10-01&to=2026-12-01',
        '/dashboard/statements',
      ]) {
        await page.goto(path);
        seen.push(path);
        const html = await page.content();
        for (const trace of traces) expect(html.includes(trace), `${trace} on ${path}`).toBe(false);
        for (const href of await page.$$eval('a[data-csv]', (anchors) => anchors.map((anchor) => anchor.getAttribute('href')!))) {
          const file = await download(page, `a[data-csv="${href}"]`);
          for (const trace of traces) expect(file.text.includes(trace), `${trace} in ${href}`).toBe(false);
        }
      }
      // Asking for the other team by its id or its tag (echoed back in the URL, the form and the CSV
      // links, as typed) finds nothing at all.
      for (const path of [`/dashboard?team=${seeded.teams.ads}&stack=team`, '/dashboard?tag:project=ads&stack=team']) {
        await page.goto(path);
        expect(await chartMarks(page), path).toEqual([]);
        expect((await dataOf(page, '[data-kpi=cost]'))[0]!.value, path).toBe('0');
        expect(await dataOf(page, '[data-table=teams] tbody tr[data-row]'), path).toEqual([]);
      }
      // What it may see is there, and a row of its team opens.
      await page.goto('/dashboard/requests?from=2026-11-01&to=2026-12-01');
      const rows = await dataOf(page, 'tr[data-request]');
      expect(new Set(rows.map((row) => row.key))).toEqual(new Set([seeded.keys.search.id]));
      await page.click(`tr[data-request="${rows[0]!.request}"] a`);
      expect(await page.isVisible(`[data-detail="${rows[0]!.request}"]`)).toBe(true);
      expect(await page.content()).not.toContain('project=ads');
      const limited = await page.goto(`/dashboard/statements/${adsStatement}`);
      expect(limited!.status()).toBe(404);
      const other = await page.goto(`/dashboard/requests?from=2026-11-01&to=2026-12-01&open=${seeded.keys.ads.id}:anything`);
      expect(other!.status()).toBe(200);
      expect(await page.textContent('[role=alert]')).toContain("No request 'anything'");
      await page.goto('/dashboard/budgets');
      await screenshots(page, 'budgets-team-limited');
    } finally {
      await context.close();
    }
    expect(seen).toHaveLength(6);
  });
});

describe('the operator on the dashboard', () => {
  test('changes a budget on the budgets page, and the gateway refuses the next request over it', async () => {
    const { context, page } = await signIn(browser, seeded.gateway.url, ADMIN_TOKEN);
    const chat = (key: string) =>
      fetch(`${seeded.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content: 'one more' }], max_tokens: 5 }),
      });
    try {
      await page.goto('/dashboard/budgets');
      // ads-ranker is projected to run out before the month ends: it wears the warning colour.
      expect(await page.getAttribute(`[data-budget="key:${seeded.keys.ads.id}"]`, 'class')).toContain('warn');
      expect(await page.getAttribute(`[data-budget="key:${seeded.keys.search.id}"]`, 'data-state')).toBe('ok');
      await screenshots(page, 'budgets');
      const before = await chat(seeded.keys.search.key);
      expect(before.status).toBe(200);
      await before.text();

      const card = `[data-budget="key:${seeded.keys.search.id}"]`;
      await page.click(`${card} summary:has-text("Change the budget")`);
      await page.fill(`${card} input[name=limit]`, '0.000001');
      await Promise.all([page.waitForURL(/done=budget-set/), page.click(`${card} button:has-text("Replace budget")`)]);
      expect(await page.textContent('[role=status]')).toContain('Budget saved');
      expect(await page.getAttribute(card, 'data-limit')).toBe('0.000001');
      expect(await page.getAttribute(card, 'data-state')).toBe('over');
      const budget = (await api(`/reports/budgets?key=${seeded.keys.search.id}`)).rows[0];
      expect(budget.limit).toBe('0.000001');

      const refused = await chat(seeded.keys.search.key);
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('insufficient_quota');
    } finally {
      await context.close();
    }
  });

  test('creates a key (its secret shown once, and it works), then revokes it (and it stops)', async () => {
    const { context, page } = await signIn(browser, seeded.gateway.url, ADMIN_TOKEN);
    const models = (key: string) => fetch(`${seeded.gateway.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    try {
      await page.goto('/dashboard/budgets');
      await page.click('summary:has-text("Create a key")');
      await page.fill('form[action="/dashboard/keys"] input[name=name]', 'new-app');
      await page.selectOption('form[action="/dashboard/keys"] select[name=teamId]', { label: 'Search' });
      await page.fill('form[action="/dashboard/keys"] input[name=limit]', '3');
      await page.click('form[action="/dashboard/keys"] button[type=submit]');
      const secret = (await page.textContent('[data-secret]'))!.trim();
      expect(secret).toMatch(/^tg_\w{32}$/);
      expect((await models(secret)).status).toBe(200);
      await page.screenshot({ path: join(SCREENSHOTS, 'key-created-laptop.png') });
      // Shown once: not on the budgets page, where the key now is with its budget.
      await page.goto('/dashboard/budgets');
      expect(await page.content()).not.toContain(secret);
      const created = (await api('/reports/budgets')).rows.find((row: any) => row.keyName === 'new-app');
      expect(created).toMatchObject({ limit: '3', teamId: seeded.teams.search });

      const card = `[data-budget="key:${created.keyId}"]`;
      await page.click(`${card} summary:has-text("Revoke")`);
      await page.check(`${card} input[name=confirm]`);
      await Promise.all([page.waitForURL(/done=revoked/), page.click(`${card} button:has-text("Revoke")`)]);
      expect((await models(secret)).status).toBe(401);
    } finally {
      await context.close();
    }
  });

  test('the sign-in page, and a wrong token on it', async () => {
    const context = await browser.newContext({ baseURL: seeded.gateway.url });
    const page = await context.newPage();
    try {
      await page.goto('/dashboard/login');
      await page.fill('input[name=token]', seeded.keys.search.key);
      await page.click('button[type=submit]');
      expect(await page.textContent('[data-sign-in-error]')).toContain('application key');
      expect((await context.cookies()).map((cookie) => cookie.name)).not.toContain('tg_session');
      await screenshots(page, 'sign-in');
    } finally {
      await context.close();
    }
  });
});

/** Picodollars as the API writes them. */
function formatPico(value: bigint): string {
  const whole = value / 1_000_000_000_000n;
  const frac = (value % 1_000_000_000_000n).toString().padStart(12, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : String(whole);
}
