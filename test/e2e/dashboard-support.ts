import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { openStore } from '../../src/store';
import { type FakeVllm, startFakeVllm } from '../doubles/fake-vllm';
import { movableClock } from '../integration/reports/support';
import { ADMIN_TOKEN, startTestGateway, type TestGateway, testConfig } from '../support/gateway';

// A gateway with a history worth looking at: two teams and a key in none, two models, tags, usage
// in October and November 2026 sent through the real /v1 route (so every number is a ledger row),
// budgets, October closed into statements; and a headless Chromium to look at it with.

export const NOW = new Date('2026-11-21T12:00:00Z');
export const SCREENSHOTS = join(process.cwd(), 'test-artifacts', 'dashboard');
export const LAPTOP = { width: 1366, height: 900 };
export const PHONE = { width: 390, height: 844 };

export interface SeededGateway {
  gateway: TestGateway;
  backend: FakeVllm;
  clock: ReturnType<typeof movableClock>;
  teams: { search: string; ads: string };
  keys: Record<'search' | 'ads' | 'loose' | 'finance' | 'financeSearch', { id: string; key: string }>;
  close(): Promise<void>;
}

async function send(gateway: TestGateway, key: string, model: string, content: string, maxTokens: number, tags?: string) {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(tags ? { 'x-tollgate-tags': tags } : {}) },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: maxTokens }),
  });
  await response.text();
  return response.status;
}

/**
 * The seeded gateway on a fresh PGlite, on loopback, its clock at `NOW` once seeded.
 *
 * @example const seeded = await seedGateway(); … await seeded.close();
 */
export async function seedGateway(): Promise<SeededGateway> {
  const backend = await startFakeVllm({ completionTokens: 40 });
  const clock = movableClock(new Date('2026-10-05T09:00:00Z'));
  const config = testConfig(backend.url, (input) => {
    input.gateway = { ...input.gateway, tags: { allowed: ['project', 'env'] } };
  });
  const gateway = await startTestGateway({ store: await openStore({ dataDir: 'memory://' }), config, now: clock.now });
  const team = async (name: string, costCenter: string) =>
    ((await (await gateway.admin('POST', '/admin/teams', { name, costCenter })).json()) as { id: string }).id;
  const teams = { search: await team('Search', 'CC-4100'), ads: await team('Ads', 'CC-4200') };
  const keys = {
    search: await gateway.createKey({ name: 'search-api', teamId: teams.search }),
    ads: await gateway.createKey({ name: 'ads-ranker', teamId: teams.ads }),
    loose: await gateway.createKey({ name: 'loose-script' }),
    finance: await gateway.createKey({ name: 'finance', scopes: ['reports'] }),
    financeSearch: await gateway.createKey({ name: 'finance-search', scopes: ['reports'], reportTeams: [teams.search] }),
  };
  await gateway.admin('PUT', `/admin/keys/${keys.search.id}/budget`, { limit: '2', period: 'month', softThresholdPct: 80 });
  await gateway.admin('PUT', `/admin/keys/${keys.ads.id}/budget`, { limit: '0.1', period: 'month', softThresholdPct: 50 });
  // October: a little of everything, for the month-over-month change and a closed period.
  for (let i = 0; i < 6; i++) {
    clock.set(new Date(Date.parse('2026-10-05T09:00:00Z') + i * 3 * 86_400_000));
    await send(gateway, keys.search.key, 'gpt-4', `october search ${i} ${'word '.repeat(20 * i)}`, 30, 'project=search,env=prod');
    await send(gateway, keys.ads.key, 'gpt-4-32k', `october ads ${i}`, 20, 'project=ads');
  }
  // November 1-20: search every day on gpt-4 (more on weekdays), ads on gpt-4-32k every other day, a script in no team.
  for (let day = 1; day <= 20; day++) {
    const at = (hour: number) => clock.set(new Date(Date.UTC(2026, 10, day, hour, day % 60)));
    at(9);
    await send(
      gateway,
      keys.search.key,
      'gpt-4',
      `search day ${day} ${'lorem ipsum '.repeat(day * 3)}`,
      20 + day,
      'project=search,env=prod',
    );
    if (day % 7 !== 0) {
      at(15);
      await send(gateway, keys.search.key, 'gpt-4', `search again ${day}`, 10, 'project=search,env=dev');
    }
    if (day % 2 === 0) {
      at(11);
      await send(gateway, keys.ads.key, 'gpt-4-32k', `ads day ${day} ${'x '.repeat(day * 5)}`, 30, 'project=ads');
    }
    if (day % 5 === 0) {
      at(22);
      await send(gateway, keys.loose.key, 'gpt-4', `loose ${day}`, 5);
    }
  }
  await gateway.ledger.flush();
  clock.set(NOW);
  const closed = await gateway.admin('POST', '/reports/periods/2026-10/close');
  if (closed.status !== 201) throw new Error(`closing October failed: ${closed.status} ${await closed.text()}`);
  return {
    gateway,
    backend,
    clock,
    teams,
    keys,
    async close() {
      await gateway.stop();
      await gateway.store.close();
      await backend.close();
    },
  };
}

/**
 * Headless Debian Chromium (never a downloaded one): no background networking, which this
 * machine's closed network refuses; Playwright gives each launch a fresh temporary profile.
 */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/** A browser context (its own cookies) signed in with `token`, on the overview. */
export async function signIn(browser: Browser, baseUrl: string, token: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: LAPTOP, acceptDownloads: true });
  const page = await context.newPage();
  await page.goto('/dashboard');
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForURL(/\/dashboard(\?|$)/), page.click('button[type=submit]')]);
  return { context, page };
}

/** Full-page screenshots of the current page at laptop and phone width, under test-artifacts/dashboard. */
export async function screenshots(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const [size, viewport] of [
    ['laptop', LAPTOP],
    ['phone', PHONE],
  ] as const) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize(LAPTOP);
}

export { ADMIN_TOKEN };
