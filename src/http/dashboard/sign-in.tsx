import type { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { timingSafeEqual } from '../../auth/secrets';
import {
  credentialFingerprint,
  isHttps,
  newNonce,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  type SessionPrincipal,
  sessionKey,
  sessionOf,
  signInCaller,
  signSession,
} from '../../auth/session';
import { postedForm } from './guard';
import { appContext, type DashboardContext, type DashboardEnv, Document, Notice, PAGE_HEADERS } from './page';

// Sign-in and sign-out. The sign-in form has its own CSRF guard (a nonce in a short-lived cookie
// and in the form, which must match), so no other site can sign a browser in with its token.

const LOGIN_COOKIE = 'tg_login';
const LOGIN_TTL_S = 30 * 60;

const ENDED: Record<string, string> = {
  expired: 'Your session expired. Sign in again.',
  revoked: 'Your session ended: its key was revoked, rotated or lost the reports scope, or the operator token changed.',
  invalid: 'Your session cookie was not valid. Sign in again.',
};

/** Where to go after signing in: a dashboard page of this site, nothing else. */
export function safeNext(next: string | null | undefined): string {
  return next && /^\/dashboard(?:[/?#]|$)/.test(next) && !next.startsWith('//') ? next : '/dashboard';
}

function SignInPage(props: { nonce: string; next: string; message?: string | undefined; error?: string | undefined }) {
  return (
    <Document title="Sign in">
      <main id="main" class="login">
        <h1>tollgate dashboard</h1>
        <p class="muted small">Sign in with a key that has the reports scope, or with the operator token.</p>
        {props.message ? <Notice kind="info">{props.message}</Notice> : null}
        {props.error ? (
          <Notice kind="error">
            <span data-sign-in-error>{props.error}</span>
          </Notice>
        ) : null}
        <form method="post" action="/dashboard/login">
          <input type="hidden" name="_csrf" value={props.nonce} />
          <input type="hidden" name="next" value={props.next} />
          <label>
            Reports key or operator token
            <input
              type="password"
              name="token"
              autocomplete="current-password"
              required
              autofocus
              aria-invalid={props.error ? 'true' : undefined}
            />
          </label>
          <button type="submit">Sign in</button>
        </form>
      </main>
    </Document>
  );
}

async function renderSignIn(c: DashboardContext, status: 200 | 401 | 403, options: { message?: string; error?: string; next: string }) {
  const nonce = newNonce();
  setCookie(c, LOGIN_COOKIE, nonce, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: isHttps(appContext(c)),
    path: '/dashboard/login',
    maxAge: LOGIN_TTL_S,
  });
  return c.html(<SignInPage nonce={nonce} next={options.next} message={options.message} error={options.error} />, status, PAGE_HEADERS);
}

/** `/dashboard/login` (GET: the form; POST: sign in) and `/dashboard/logout` (POST). */
export function registerSignInRoutes(app: Hono<DashboardEnv>): void {
  app.get('/dashboard/login', async (c) => {
    const next = safeNext(c.req.query('next'));
    if ((await sessionOf(appContext(c))).state === 'valid') return c.redirect(next, 303);
    return renderSignIn(c, 200, { next, message: ENDED[c.req.query('ended') ?? ''] });
  });

  app.post('/dashboard/login', async (c) => {
    const { deps } = c.var;
    const form = new URLSearchParams(await deps.io.bodyText(appContext(c), 16 * 1024));
    const next = safeNext(form.get('next'));
    const nonce = getCookie(c, LOGIN_COOKIE) ?? '';
    if (nonce === '' || !timingSafeEqual(form.get('_csrf') ?? '', nonce)) {
      return renderSignIn(c, 403, { next, error: 'The sign-in form expired or did not come from this dashboard. Try again.' });
    }
    const result = await signInCaller(deps, form.get('token') ?? '');
    if (!result.ok) {
      return result.reason === 'scope'
        ? renderSignIn(c, 403, {
            next,
            error: 'This is an application key: it can call /v1 but has no reports scope, so it cannot sign in here.',
          })
        : renderSignIn(c, 401, { next, error: 'That token is neither a live reports key nor the operator token.' });
    }
    const key = await sessionKey(deps.store);
    const principal: SessionPrincipal =
      result.caller.kind === 'operator' ? { kind: 'operator' } : { kind: 'key', keyId: result.caller.keyId };
    const cookie = signSession(key, {
      principal,
      credential: credentialFingerprint(key, result.credentialHash),
      expiresAt: deps.now().getTime() + SESSION_TTL_MS,
      nonce: newNonce(),
    });
    deleteCookie(c, LOGIN_COOKIE, { path: '/dashboard/login' });
    setCookie(c, SESSION_COOKIE, cookie, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(appContext(c)),
      path: '/',
      maxAge: SESSION_TTL_MS / 1000,
    });
    return c.redirect(next, 303);
  });

  app.post('/dashboard/logout', async (c) => {
    await postedForm(c);
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isHttps(appContext(c)) });
    return c.redirect('/dashboard/login', 303);
  });
}
