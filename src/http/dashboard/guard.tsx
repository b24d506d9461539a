import type { MiddlewareHandler } from 'hono';
import { deleteCookie } from 'hono/cookie';
import { timingSafeEqual } from '../../auth/secrets';
import { SESSION_COOKIE, sessionOf } from '../../auth/session';
import { GatewayError } from '../../errors';
import type { ReportScope } from '../../reports';
import { listTeams } from '../../store/teams';
import { reportScope } from '../report-output';
import { appContext, type DashboardContext, type DashboardEnv, Document, PAGE_HEADERS } from './page';

/** Reloads the page it answers: a navigation from this site, which carries SameSite=Strict cookies. */
function Reopen(props: { href: string }) {
  return (
    <Document title="Opening the dashboard" head={<meta http-equiv="refresh" content="0" />}>
      <main id="main">
        <p>
          <a href={props.href}>Continue to the dashboard</a>
        </p>
      </main>
    </Document>
  );
}

/** Pages anyone may load: the sign-in form and the stylesheet. */
const OPEN = (path: string) => path === '/dashboard/login' || path.startsWith('/dashboard/assets/');

/**
 * Every dashboard page but sign-in needs a valid session, checked on each request (the key still
 * live, still `reports`, not rotated). A page load without one goes to the sign-in form and comes
 * back after; a form post without one is refused.
 *
 * @example dashboard.use('*', requireSession())
 */
export function requireSession(): MiddlewareHandler<DashboardEnv> {
  return async function requireSessionMiddleware(c, next) {
    if (OPEN(c.req.path)) return next();
    const found = await sessionOf(appContext(c));
    if (found.state !== 'valid') {
      // A link from another site: SameSite=Strict kept the cookie back on this navigation, so load
      // the page once more from here, which sends it (a signed-in reader lands where the link went).
      if (found.state === 'none' && c.req.method === 'GET' && c.req.header('sec-fetch-site') === 'cross-site') {
        const url = new URL(c.req.url);
        return c.html(<Reopen href={`${url.pathname}${url.search}`} />, 200, PAGE_HEADERS);
      }
      if (found.state === 'invalid') deleteCookie(c, SESSION_COOKIE, { path: '/' });
      if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
        throw new GatewayError(401, 'Your dashboard session has ended; sign in again.', { code: 'session_required' });
      }
      const url = new URL(c.req.url);
      const back = `${url.pathname}${url.search}`;
      const ended = found.state === 'invalid' ? `&ended=${found.reason}` : '';
      return c.redirect(`/dashboard/login?next=${encodeURIComponent(back)}${ended}`, 303);
    }
    c.set('caller', found.caller);
    c.set('csrf', found.csrf);
    const scope = await reportScope(appContext(c));
    c.set(
      'readerTeams',
      scope.teams === null ? null : (await listTeams(c.var.deps.store)).filter((team) => scope.teams!.includes(team.id)),
    );
    return next();
  };
}

/** The reader's scope (every team, or some), as the reports API computes it. */
export function scopeOf(c: DashboardContext): ReportScope {
  const caller = c.var.caller;
  const teams = c.var.readerTeams;
  return { teams: teams === null ? null : teams.map((team) => team.id), actor: caller.kind === 'operator' ? 'operator' : caller.keyId };
}

/** Only the operator changes budgets and keys; a reports key sees the pages but not the forms. */
export function requireOperator(c: DashboardContext): void {
  if (c.var.caller.kind !== 'operator') {
    throw new GatewayError(403, 'Only the operator can change budgets and keys.', { code: 'insufficient_scope' });
  }
}

/**
 * A posted form, once its CSRF token is checked against the session's (and a browser that says
 * the post came from another site is refused outright): nothing changes without both.
 */
export async function postedForm(c: DashboardContext): Promise<URLSearchParams> {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new GatewayError(403, 'This form was posted from another site.', { code: 'csrf_failed' });
  }
  const form = new URLSearchParams(await c.var.deps.io.bodyText(appContext(c), c.var.bodyLimit ?? 64 * 1024));
  if (!timingSafeEqual(form.get('_csrf') ?? '', c.var.csrf)) {
    throw new GatewayError(
      403,
      'This form is stale or was not made by this dashboard (CSRF check failed); reload the page and try again.',
      {
        code: 'csrf_failed',
      },
    );
  }
  return form;
}
