import type { Context } from 'hono';
import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';
import type { Caller, HonoEnv } from '../../deps';
import { DASHBOARD_CSS_PATH } from './styles';

/** The dashboard's context: the app's, plus the signed-in session's CSRF token and who it is. */
export interface DashboardEnv {
  Variables: HonoEnv['Variables'] & {
    /** The session's CSRF token, put in every state-changing form. */
    csrf: string;
    /** The teams the reader may see, by name (null: every team). */
    readerTeams: { id: string; name: string }[] | null;
  };
}

export type DashboardContext = Context<DashboardEnv>;

/**
 * The dashboard's context as the app's, for functions that take the app's (auth, the reports
 * scope, body reading): it is the same object with two more variables, but Hono's Context type is
 * invariant in its env.
 */
export function appContext(c: DashboardContext): Context<HonoEnv> {
  return c as unknown as Context<HonoEnv>;
}

/**
 * No scripts at all, styles from our own stylesheet only, forms posted only here, never framed;
 * pages hold spend and key names, so no cache keeps them.
 */
export const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;

export const PAGES = [
  { path: '/dashboard', label: 'Overview' },
  { path: '/dashboard/budgets', label: 'Budgets' },
  { path: '/dashboard/requests', label: 'Requests' },
  { path: '/dashboard/statements', label: 'Statements' },
] as const;

function whoLabel(caller: Caller, teams: { name: string }[] | null): string {
  if (caller.kind === 'operator') return 'operator';
  const scope = teams === null ? 'all teams' : teams.length === 0 ? 'no team' : teams.map((team) => team.name).join(', ');
  return `${caller.name} (reports: ${scope})`;
}

/** A hidden field with the session's CSRF token: every form that changes something carries it. */
export function CsrfField(props: { token: string }) {
  return <input type="hidden" name="_csrf" value={props.token} />;
}

export function Notice(props: { kind: 'error' | 'info' | 'secret'; children: Child }) {
  return (
    <div class={`notice ${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </div>
  );
}

/** The HTML document around a page: the stylesheet, and the page's title. */
export function Document(props: { title: string; head?: Child; children: Child }) {
  return (
    <>
      {raw('<!doctype html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="color-scheme" content="light" />
          <title>{`${props.title} · tollgate`}</title>
          <link rel="stylesheet" href={DASHBOARD_CSS_PATH} />
          {props.head}
        </head>
        <body>{props.children}</body>
      </html>
    </>
  );
}

/** A signed-in page: navigation (with the current one marked), who is signed in, sign-out. */
export function Layout(props: { c: DashboardContext; title: string; current: string; navQuery?: string; children: Child }) {
  const { caller, csrf, readerTeams } = props.c.var;
  return (
    <Document title={props.title}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">tollgate</span>
        <nav aria-label="Dashboard pages">
          {PAGES.map((page) => (
            <a
              href={page.path === '/dashboard' || page.path === '/dashboard/requests' ? `${page.path}${props.navQuery ?? ''}` : page.path}
              aria-current={page.path === props.current ? 'page' : undefined}
            >
              {page.label}
            </a>
          ))}
        </nav>
        <div class="who">
          <span data-who={caller.kind === 'operator' ? 'operator' : caller.keyId}>Signed in as {whoLabel(caller, readerTeams)}</span>
          <form method="post" action="/dashboard/logout">
            <CsrfField token={csrf} />
            <button type="submit">Sign out</button>
          </form>
        </div>
      </header>
      <main id="main">{props.children}</main>
    </Document>
  );
}

/** A link that downloads the API's own CSV for what the block above it shows. */
export function CsvLink(props: { href: string; what: string }) {
  return (
    <a class="csv" href={props.href} download data-csv={props.href} aria-label={`Download CSV: ${props.what}`}>
      CSV
    </a>
  );
}
