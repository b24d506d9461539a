import { Hono } from 'hono';
import type { Caller, Deps, HonoEnv } from '../../deps';
import { GatewayError } from '../../errors';
import { registerAdminBudgetRoutes } from '../admin-budgets';
import { registerAdminKeyRoutes } from '../admin-keys';
import { budgetsPage } from './budgets';
import { postedForm, requireOperator } from './guard';
import { type DashboardContext, type DashboardEnv, Layout, Notice, PAGE_HEADERS } from './page';

// The operator's changes from the budgets page, made through the admin API itself, in process:
// the same validation, the same audit log entries (actor `operator`, this request's id), the same
// refusals, whose messages the page shows. Each form is checked for its CSRF token first.

interface AdminCallEnv {
  deps: Deps;
  caller: Caller;
  requestId: string;
}

const adminApi = new Hono<HonoEnv>();
adminApi.use(async function adminCallContext(c, next) {
  const env = c.env as unknown as AdminCallEnv;
  c.set('deps', env.deps);
  c.set('caller', env.caller);
  c.set('requestId', env.requestId);
  c.set('bodyLimit', 64 * 1024);
  await next();
});
registerAdminKeyRoutes(adminApi);
registerAdminBudgetRoutes(adminApi);
adminApi.onError((error, c) => {
  if (error instanceof GatewayError) return c.json(error.toJSON(), error.status);
  throw error;
});

/** Calls `/admin/*` in process as the signed-in operator; a refusal becomes the GatewayError it was. */
async function callAdmin<T>(c: DashboardContext, method: string, path: string, body?: unknown): Promise<T> {
  const request = new Request(`http://dashboard.invalid${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const env: AdminCallEnv = { deps: c.var.deps, caller: c.var.caller, requestId: c.var.requestId };
  const response = await adminApi.fetch(request, env);
  const json = (await response.json()) as T & { error?: { message: string; code: string | null; param: string | null } };
  if (!response.ok) {
    throw new GatewayError(response.status as 400, json.error?.message ?? `The change was refused (${response.status}).`, {
      code: json.error?.code ?? null,
      param: json.error?.param ?? null,
    });
  }
  return json;
}

/** A form field, trimmed; null when left empty. */
const field = (form: URLSearchParams, name: string) => {
  const value = form.get(name)?.trim();
  return value ? value : null;
};

/** A whole number typed in a form (the admin API refuses anything else with its own message). */
const wholeNumber = (text: string | null) => (text === null ? null : /^\d+$/.test(text) ? Number(text) : text);

/** The budget the form asks for, in the admin API's shape. */
function budgetBody(form: URLSearchParams) {
  return {
    limit: field(form, 'limit'),
    limitTokens: wholeNumber(field(form, 'limitTokens')),
    period: field(form, 'period') ?? 'month',
    timezone: field(form, 'timezone') ?? 'UTC',
    softThresholdPct: wholeNumber(field(form, 'softThresholdPct')),
  };
}

/** A new secret, shown once: the page is never cached and the secret is nowhere else. */
function SecretPage(props: { c: DashboardContext; title: string; keyId: string; name: string; secret: string; note?: string | null }) {
  return (
    <Layout c={props.c} title={props.title} current="/dashboard/budgets">
      <h1>{props.title}</h1>
      {props.note ? <Notice kind="error">{props.note}</Notice> : null}
      <Notice kind="secret">
        <p>
          The secret of <strong>{props.name}</strong> <small class="mono">{props.keyId}</small> is shown this once. Copy it now: the gateway
          keeps only its hash.
        </p>
        <code class="secret-value" data-secret>
          {props.secret}
        </code>
      </Notice>
      <p>
        <a class="button" href={`/dashboard/budgets#key-${props.keyId}`}>
          Done
        </a>
      </p>
    </Layout>
  );
}

/** Runs an operator change; a refusal re-renders the budgets page with the API's message. */
async function change(c: DashboardContext, body: (form: URLSearchParams) => Promise<Response>): Promise<Response> {
  const form = await postedForm(c);
  requireOperator(c);
  try {
    return await body(form);
  } catch (error) {
    if (error instanceof GatewayError && error.status < 500) {
      return budgetsPage(c, { status: error.status as 400, message: error.message });
    }
    throw error;
  }
}

/** `POST /dashboard/keys…`: set, replace or remove a budget, revoke, rotate or create a key (operator only). */
export function registerBudgetActions(app: Hono<DashboardEnv>): void {
  app.post('/dashboard/keys/:id/budget', (c) =>
    change(c, async (form) => {
      const id = c.req.param('id');
      await callAdmin(c, 'PUT', `/admin/keys/${encodeURIComponent(id)}/budget`, budgetBody(form));
      return c.redirect(`/dashboard/budgets?done=budget-set#key-${encodeURIComponent(id)}`, 303);
    }),
  );

  app.post('/dashboard/keys/:id/budget/delete', (c) =>
    change(c, async () => {
      await callAdmin(c, 'DELETE', `/admin/keys/${encodeURIComponent(c.req.param('id'))}/budget`);
      return c.redirect('/dashboard/budgets?done=budget-removed', 303);
    }),
  );

  app.post('/dashboard/keys/:id/revoke', (c) =>
    change(c, async (form) => {
      if (form.get('confirm') !== 'yes') throw new GatewayError(400, 'Tick the box to confirm the revocation.', { code: 'not_confirmed' });
      await callAdmin(c, 'DELETE', `/admin/keys/${encodeURIComponent(c.req.param('id'))}`);
      return c.redirect('/dashboard/budgets?done=revoked', 303);
    }),
  );

  app.post('/dashboard/keys/:id/rotate', (c) =>
    change(c, async () => {
      const key = await callAdmin<{ id: string; name: string; key: string }>(
        c,
        'POST',
        `/admin/keys/${encodeURIComponent(c.req.param('id'))}/rotate`,
      );
      return c.html(<SecretPage c={c} title="Key rotated" keyId={key.id} name={key.name} secret={key.key} />, 200, PAGE_HEADERS);
    }),
  );

  app.post('/dashboard/keys', (c) =>
    change(c, async (form) => {
      const key = await callAdmin<{ id: string; name: string; key: string }>(c, 'POST', '/admin/keys', {
        name: field(form, 'name') ?? '',
        scopes: form.getAll('scopes'),
        teamId: field(form, 'teamId'),
      });
      const limit = field(form, 'limit');
      let note: string | null = null;
      if (limit !== null) {
        try {
          await callAdmin(c, 'PUT', `/admin/keys/${encodeURIComponent(key.id)}/budget`, {
            limit,
            period: field(form, 'period') ?? 'month',
          });
        } catch (error) {
          // The key exists either way: say what happened to its budget beside its secret.
          if (!(error instanceof GatewayError)) throw error;
          note = `The key was created without a budget: ${error.message}`;
        }
      }
      return c.html(
        <SecretPage c={c} title="Key created" keyId={key.id} name={key.name} secret={key.key} note={note} />,
        201,
        PAGE_HEADERS,
      );
    }),
  );
}
