import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app';
import { buildDeps } from '../../src/gateway';
import { openStore } from '../../src/store';
import { createLedger } from '../../src/usage';
import { type FakeVllm, startFakeVllm } from '../doubles/fake-vllm';
import { movableClock } from '../integration/reports/support';
import { buildTestApp, type TestApp } from '../support/app';
import { ADMIN_TOKEN, testConfig } from '../support/gateway';

// Who may sign in to the dashboard, what a session is worth and for how long, and that nothing
// changes without the session's CSRF token. Driven with app.request (no browser, no port): these
// are the HTTP facts a browser relies on.

const BASE = 'http://gateway.test';
let backend: FakeVllm;
let gateway: TestApp;
const clock = movableClock(new Date('2026-11-10T12:00:00Z'));
const teams = { a: '', b: '' };
const keys = {} as Record<'appA' | 'appB' | 'finance' | 'financeA', { id: string; key: string }>;

/** The value of a cookie a response sets (undefined when it sets none of that name). */
function setCookie(response: Response, name: string): { value: string; attributes: string } | undefined {
  const line = response.headers.getSetCookie().find((cookie) => cookie.startsWith(`${name}=`));
  if (!line) return undefined;
  const [pair, ...attributes] = line.split(';');
  return { value: pair!.slice(name.length + 1), attributes: attributes.join(';').trim() };
}

const request = (path: string, init: RequestInit & { cookie?: string } = {}) =>
  gateway.app.request(path.startsWith('http') ? path : `${BASE}${path}`, {
    ...init,
    headers: { ...(init.cookie ? { cookie: init.cookie } : {}), ...(init.headers as Record<string, string>) },
  });

/** Signs in through the form as a browser would: the form's nonce cookie, then the post. */
async function signIn(token: string, base = BASE): Promise<Response> {
  const form = await request(`${base}/dashboard/login`);
  const nonce = setCookie(form, 'tg_login')!.value;
  expect(await form.text()).toContain(`name="_csrf" value="${nonce}"`);
  return request(`${base}/dashboard/login`, {
    method: 'POST',
    cookie: `tg_login=${nonce}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: nonce, token, next: '/dashboard/budgets' }).toString(),
  });
}

async function sessionOf(token: string): Promise<string> {
  const response = await signIn(token);
  expect(response.status).toBe(303);
  return `tg_session=${setCookie(response, 'tg_session')!.value}`;
}

/** A page's CSRF token, as its sign-out form carries it. */
async function csrfOf(cookie: string): Promise<string> {
  const html = await (await request('/dashboard/budgets', { cookie })).text();
  return /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
}

const post = (path: string, cookie: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  request(path, {
    method: 'POST',
    cookie,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });

async function budgetOf(keyId: string): Promise<{ limit: string } | null> {
  const response = await gateway.admin('GET', `/admin/keys/${keyId}/budget`);
  return response.status === 404 ? null : ((await response.json()) as { limit: string });
}

beforeAll(async () => {
  backend = await startFakeVllm({ completionTokens: 3 });
  gateway = await buildTestApp({ store: await openStore({ dataDir: 'memory://' }), config: testConfig(backend.url), now: clock.now });
  for (const name of ['a', 'b'] as const) {
    teams[name] = ((await (await gateway.admin('POST', '/admin/teams', { name: `team ${name}` })).json()) as { id: string }).id;
  }
  keys.appA = await gateway.createKey({ name: 'app-a', teamId: teams.a });
  keys.appB = await gateway.createKey({ name: 'app-b', teamId: teams.b });
  keys.finance = await gateway.createKey({ name: 'finance', scopes: ['reports'] });
  keys.financeA = await gateway.createKey({ name: 'finance-a', scopes: ['reports'], reportTeams: [teams.a] });
  await gateway.admin('PUT', `/admin/keys/${keys.appA.id}/budget`, { limit: '5', period: 'month' });
  for (const [who, id] of [
    ['appA', 'req_dash_a'],
    ['appB', 'req_dash_b'],
  ] as const) {
    const response = await gateway.call(
      keys[who].key,
      '/v1/chat/completions',
      { model: 'gpt-4', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 },
      { 'x-request-id': id },
    );
    expect(response.status).toBe(200);
    await response.text();
  }
  await gateway.flush();
});

afterAll(async () => {
  await gateway?.store.close();
  await backend?.close();
});

describe('signing in', () => {
  test('a reports key gets an HttpOnly, SameSite=Strict, signed session cookie with an expiry, and lands where it was going', async () => {
    const response = await signIn(keys.finance.key);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/dashboard/budgets');
    const cookie = setCookie(response, 'tg_session')!;
    expect(cookie.value).toMatch(/^v1\.[\w-]+\.[\w-]+$/);
    expect(cookie.attributes).toMatch(/Max-Age=28800/);
    expect(cookie.attributes).toMatch(/Path=\//);
    expect(cookie.attributes).toMatch(/HttpOnly/);
    expect(cookie.attributes).toMatch(/SameSite=Strict/);
    expect(cookie.attributes).not.toMatch(/Secure/);
    expect(setCookie(response, 'tg_login')?.attributes).toMatch(/Max-Age=0/);
    const page = await request('/dashboard', { cookie: `tg_session=${cookie.value}` });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Signed in as finance (reports: all teams)');
  });

  test('over https (directly or behind a proxy that says so) the cookie is also Secure', async () => {
    const direct = await signIn(keys.finance.key, 'https://gateway.test');
    expect(setCookie(direct, 'tg_session')!.attributes).toMatch(/Secure/);
    const form = await request('/dashboard/login', { headers: { 'x-forwarded-proto': 'https' } });
    expect(setCookie(form, 'tg_login')!.attributes).toMatch(/Secure/);
  });

  test('the operator token signs in as the operator', async () => {
    const page = await request('/dashboard/budgets', { cookie: await sessionOf(ADMIN_TOKEN) });
    const html = await page.text();
    expect(html).toContain('Signed in as operator');
    expect(html).toContain('Create key');
  });

  test('an application key cannot sign in, a wrong token gets a clear message, and neither gets a session', async () => {
    const app = await signIn(keys.appA.key);
    expect(app.status).toBe(403);
    expect(await app.text()).toContain('This is an application key: it can call /v1 but has no reports scope, so it cannot sign in here.');
    expect(setCookie(app, 'tg_session')).toBeUndefined();
    for (const token of ['tg_not_a_key_at_all', '', `${ADMIN_TOKEN}x`]) {
      const wrong = await signIn(token);
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).toContain('That token is neither a live reports key nor the operator token.');
      expect(setCookie(wrong, 'tg_session')).toBeUndefined();
    }
  });

  test('the sign-in form only counts from this dashboard: without its nonce cookie, or with another nonce, it is refused', async () => {
    const body = (nonce: string) => new URLSearchParams({ _csrf: nonce, token: keys.finance.key }).toString();
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    const missing = await request('/dashboard/login', { method: 'POST', headers, body: body('abc') });
    const mismatched = await request('/dashboard/login', { method: 'POST', headers, cookie: 'tg_login=abc', body: body('abd') });
    for (const response of [missing, mismatched]) {
      expect(response.status).toBe(403);
      expect(setCookie(response, 'tg_session')).toBeUndefined();
    }
  });

  test('a page without a session goes to sign-in and comes back after', async () => {
    const response = await request('/dashboard/requests?team=none');
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/dashboard/login?next=${encodeURIComponent('/dashboard/requests?team=none')}`);
    expect((await request('/dashboard/login?next=https://evil.example/')).status).toBe(200);
  });
});

describe('what a session is worth', () => {
  test('a forged cookie is refused by the pages and by the API', async () => {
    const cookie = await sessionOf(keys.financeA.key);
    const [version, payload, mac] = cookie.slice('tg_session='.length).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const asOperator = Buffer.from(JSON.stringify({ ...claims, p: 'operator' })).toString('base64url');
    const longer = Buffer.from(JSON.stringify({ ...claims, e: claims.e + 365 * 86_400_000 })).toString('base64url');
    for (const forged of [
      `${version}.${asOperator}.${mac}`,
      `${version}.${longer}.${mac}`,
      `${version}.${payload}.${mac!.replace(/^./, 'A')}x`,
    ]) {
      const page = await request('/dashboard', { cookie: `tg_session=${forged}` });
      expect(page.status).toBe(303);
      expect(page.headers.get('location')).toMatch(/ended=invalid$/);
      expect(setCookie(page, 'tg_session')?.attributes).toMatch(/Max-Age=0/);
      const api = await request('/reports/usage?from=2026-11-01&to=2026-12-01', { cookie: `tg_session=${forged}` });
      expect(api.status).toBe(401);
    }
  });

  test('a session expires after eight hours', async () => {
    const cookie = await sessionOf(keys.finance.key);
    try {
      clock.set(new Date(Date.parse('2026-11-10T12:00:00Z') + 8 * 3_600_000 - 1000));
      expect((await request('/dashboard/statements', { cookie })).status).toBe(200);
      clock.set(new Date(Date.parse('2026-11-10T12:00:00Z') + 8 * 3_600_000));
      const page = await request('/dashboard/statements', { cookie });
      expect(page.status).toBe(303);
      expect(page.headers.get('location')).toMatch(/ended=expired$/);
      expect((await request('/reports/budgets', { cookie })).status).toBe(401);
      const form = await request(page.headers.get('location')!);
      expect(await form.text()).toContain('Your session expired. Sign in again.');
    } finally {
      clock.set('2026-11-10T12:00:00Z');
    }
  });

  test("a key's session stops at once when the key is revoked, rotated or loses the reports scope", async () => {
    for (const change of ['revoke', 'rotate', 'descope'] as const) {
      const key = await gateway.createKey({ name: `finance-${change}`, scopes: ['reports', 'proxy'] });
      const cookie = await sessionOf(key.key);
      expect((await request('/dashboard', { cookie })).status).toBe(200);
      if (change === 'revoke') await gateway.admin('DELETE', `/admin/keys/${key.id}`);
      if (change === 'rotate') await gateway.admin('POST', `/admin/keys/${key.id}/rotate`);
      if (change === 'descope') await gateway.admin('PATCH', `/admin/keys/${key.id}`, { scopes: ['proxy'] });
      const page = await request('/dashboard', { cookie });
      expect(page.status, change).toBe(303);
      expect(page.headers.get('location'), change).toMatch(/ended=revoked$/);
      expect((await request('/reports/usage?from=2026-11-01&to=2026-12-01', { cookie })).status, change).toBe(401);
    }
  });

  test("another operator token ends the operator's sessions", async () => {
    const cookie = await sessionOf(ADMIN_TOKEN);
    expect((await request('/dashboard', { cookie })).status).toBe(200);
    // A second instance on the same database whose operator token was changed.
    const deps = await buildDeps({
      config: gateway.config,
      store: gateway.store,
      ledger: createLedger(gateway.store, { log: () => {} }),
      adminToken: 'tgadmin_a_new_operator_token',
      log: () => {},
      now: clock.now,
    });
    const other = createApp(deps);
    const page = await other.request(`${BASE}/dashboard`, { headers: { cookie } });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toMatch(/ended=revoked$/);
    // A key's session, signed with the same shared secret, still holds there.
    const finance = await sessionOf(keys.finance.key);
    expect((await other.request(`${BASE}/dashboard`, { headers: { cookie: finance } })).status).toBe(200);
  });

  test('a session reads /reports (GET) within its scope, and nothing else: no POST, no /admin, no /v1', async () => {
    const cookie = await sessionOf(keys.financeA.key);
    const usage = await request('/reports/usage?from=2026-11-01&to=2026-12-01&groupBy=team', { cookie });
    expect(usage.status).toBe(200);
    expect(((await usage.json()) as { rows: { teamId: string }[] }).rows.map((row) => row.teamId)).toEqual([teams.a]);
    const csv = await request('/reports/requests?from=2026-11-01&to=2026-12-01&format=csv', { cookie });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(await csv.text()).not.toContain(keys.appB.id);
    const reprice = await request('/reports/reprice', {
      method: 'POST',
      cookie,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: '2026-11-01', to: '2026-12-01', prices: {} }),
    });
    expect(reprice.status).toBe(401);
    const operator = await sessionOf(ADMIN_TOKEN);
    expect((await request('/admin/keys', { cookie: operator })).status).toBe(401);
    expect((await request('/reports/periods/2026-10/close', { method: 'POST', cookie: operator })).status).toBe(401);
    const v1 = await request('/v1/models', { cookie: operator });
    expect(v1.status).toBe(401);
  });

  test("one ledger row in full: GET /reports/requests/{id}; another team's row does not exist for a limited key", async () => {
    const operator = await sessionOf(ADMIN_TOKEN);
    const limited = await sessionOf(keys.financeA.key);
    const own = await request(`/reports/requests/req_dash_a?key=${keys.appA.id}`, { cookie: limited });
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({
      object: 'ledger.row',
      requestId: 'req_dash_a',
      keyId: keys.appA.id,
      keyName: 'app-a',
      teamId: teams.a,
      status: 'ok',
      promptTokensEstimated: expect.any(Number),
      completionTokens: 3,
      usageSource: 'upstream',
      price: { promptPer1k: '0.03', completionPer1k: '0.06' },
    });
    expect((await request('/reports/requests/req_dash_b', { cookie: limited })).status).toBe(404);
    expect((await request('/reports/requests/req_dash_b', { cookie: operator })).status).toBe(200);
  });
});

describe('changes need the session and its CSRF token', () => {
  test('a budget form without the token, with another token, or posted from another site changes nothing; with it, the budget is set and audited', async () => {
    const cookie = await sessionOf(ADMIN_TOKEN);
    const csrf = await csrfOf(cookie);
    const path = `/dashboard/keys/${keys.appB.id}/budget`;
    const fields = { limit: '7.5', period: 'month', timezone: 'UTC' };
    for (const [name, attempt] of [
      ['no token', post(path, cookie, fields)],
      ['another token', post(path, cookie, { ...fields, _csrf: `${csrf.slice(0, -1)}x` })],
      ["another session's token", post(path, cookie, { ...fields, _csrf: await csrfOf(await sessionOf(ADMIN_TOKEN)) })],
      ['cross-site', post(path, cookie, { ...fields, _csrf: csrf }, { 'sec-fetch-site': 'cross-site' })],
    ] as const) {
      const response = await attempt;
      expect(response.status, name).toBe(403);
      expect(await response.text(), name).toContain('csrf_failed');
      expect(await budgetOf(keys.appB.id), name).toBeNull();
    }
    const noSession = await post(path, '', { ...fields, _csrf: csrf });
    expect(noSession.status).toBe(401);
    const done = await post(path, cookie, { ...fields, _csrf: csrf }, { 'sec-fetch-site': 'same-origin' });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/dashboard/budgets?done=budget-set#key-${keys.appB.id}`);
    expect(await budgetOf(keys.appB.id)).toMatchObject({ limit: '7.5', period: 'month' });
    const audit = (await (await gateway.admin('GET', '/reports/audit?from=2026-01-01&to=2027-01-01&action=budget.set')).json()) as {
      data: { actor: string; target: string }[];
    };
    expect(audit.data.find((entry) => entry.target === keys.appB.id)).toMatchObject({ actor: 'operator' });
  });

  test("a refused change shows the admin API's own message on the budgets page", async () => {
    const cookie = await sessionOf(ADMIN_TOKEN);
    const response = await post(`/dashboard/keys/${keys.appB.id}/budget`, cookie, {
      limit: '1e3',
      period: 'month',
      _csrf: await csrfOf(cookie),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain(
      'Invalid &#39;limit&#39;: must be a decimal USD string such as &quot;10&quot; or &quot;12.50&quot;',
    );
  });

  test('a reports key sees the budgets but cannot change them, whatever it posts', async () => {
    const cookie = await sessionOf(keys.finance.key);
    const csrf = await csrfOf(cookie);
    const page = await (await request('/dashboard/budgets', { cookie })).text();
    expect(page).not.toContain('/budget/delete');
    for (const path of [`/dashboard/keys/${keys.appA.id}/budget/delete`, `/dashboard/keys/${keys.appA.id}/revoke`, '/dashboard/keys']) {
      const response = await post(path, cookie, { _csrf: csrf, confirm: 'yes', name: 'x' });
      expect(response.status, path).toBe(403);
    }
    expect(await budgetOf(keys.appA.id)).toMatchObject({ limit: '5' });
  });

  test('sign-out needs the token too, and clears the cookie', async () => {
    const cookie = await sessionOf(keys.finance.key);
    expect((await post('/dashboard/logout', cookie, {})).status).toBe(403);
    const out = await post('/dashboard/logout', cookie, { _csrf: await csrfOf(cookie) });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/dashboard/login');
    expect(setCookie(out, 'tg_session')?.attributes).toMatch(/Max-Age=0/);
  });
});
