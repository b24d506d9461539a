import { Hono } from 'hono';
import { GatewayError } from '../../errors';
import { describeError } from '../../store/errors';
import { registerBudgetActions } from './budget-actions';
import { budgetsPage } from './budgets';
import { requireSession } from './guard';
import { overviewPage } from './overview';
import { type DashboardContext, type DashboardEnv, Document, Layout, Notice, PAGE_HEADERS } from './page';
import { requestsPage } from './requests';
import { registerSignInRoutes } from './sign-in';
import { statementPage, statementsPage } from './statements';
import { DASHBOARD_CSS } from './styles';

/** An error as a page: the API's message for a 4xx (a bad filter, a refused change), a plain one for a 5xx. */
function errorPage(error: Error, c: DashboardContext) {
  const status = error instanceof GatewayError ? error.status : 500;
  if (status >= 500) {
    const frames = (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));
    c.var.deps.log(
      [
        `tollgate: internal error on ${c.req.method} ${c.req.path} (${c.var.requestId}): ${error.name}: ${describeError(error)}`,
        ...frames,
      ].join('\n'),
    );
  }
  const message = status >= 500 ? 'Something went wrong on the gateway; the error is in its log.' : error.message;
  const body = (
    <>
      <h1>{status === 404 ? 'Not found' : status >= 500 ? 'Error' : 'That did not work'}</h1>
      <Notice kind="error">
        <span data-error-code={error instanceof GatewayError ? (error.code ?? '') : 'internal_error'}>{message}</span>
      </Notice>
      <p>
        <a href="/dashboard">Back to the overview</a>
      </p>
    </>
  );
  const signedIn = c.var.csrf !== undefined;
  return c.html(
    signedIn ? (
      <Layout c={c} title="Error" current="">
        {body}
      </Layout>
    ) : (
      <Document title="Error">
        <main id="main">
          {body}
          <p>
            <a href="/dashboard/login">Sign in</a>
          </p>
        </main>
      </Document>
    ),
    status as 400,
    PAGE_HEADERS,
  );
}

/**
 * The dashboard under `/dashboard`: server-rendered pages (hono/jsx) over the reports and admin
 * functions, for a signed-in `reports` key or the operator. No client JavaScript; one stylesheet.
 *
 * @example app.route('/', dashboardRoutes())
 */
export function dashboardRoutes(): Hono<DashboardEnv> {
  const app = new Hono<DashboardEnv>();
  app.onError(errorPage);
  app.get('/dashboard/assets/dashboard.css', (c) =>
    c.body(DASHBOARD_CSS, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=86400' }),
  );
  app.use('/dashboard', requireSession());
  app.use('/dashboard/*', requireSession());
  registerSignInRoutes(app);
  app.get('/dashboard', overviewPage);
  app.get('/dashboard/', (c) => c.redirect('/dashboard', 301));
  app.get('/dashboard/budgets', (c) => budgetsPage(c));
  registerBudgetActions(app);
  app.get('/dashboard/requests', requestsPage);
  app.get('/dashboard/statements', statementsPage);
  app.get('/dashboard/statements/:id', statementPage);
  app.all('/dashboard/*', () => {
    throw new GatewayError(404, 'There is no such dashboard page.', { code: 'unknown_url' });
  });
  return app;
}
