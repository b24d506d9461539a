import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { requireScope } from './auth';
import { reportsAuth } from './auth/session';
import { unservableModels } from './backends';
import type { Config } from './config';
import type { Deps, HonoEnv } from './deps';
import { GatewayError, internalErrorBody } from './errors';
import { registerAdminBudgetRoutes } from './http/admin-budgets';
import { registerAdminKeyRoutes } from './http/admin-keys';
import { registerAdminModelRoutes } from './http/admin-models';
import { registerAdminReloadRoute } from './http/admin-reload';
import { registerAdminTeamRoutes } from './http/admin-teams';
import { limitBody } from './http/body';
import { dashboardRoutes } from './http/dashboard';
import { registerEstimateRoute } from './http/estimate';
import { registerOpenAiRoutes } from './http/openai';
import { RateGate } from './http/rate-gate';
import { registerReportRoutes } from './http/reports';
import { registerReportPeriodRoutes } from './http/reports-periods';
import { randomHex } from './proxy/trace';
import { Readiness } from './runtime/readiness';
import { describeError } from './store/errors';
import { tokenizerStats } from './tokenize';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** `req_` and 32 random hex digits (128 bits, drawn from a pool: no syscall-backed fill per request). */
function newRequestId(): string {
  return `req_${randomHex(16)}`;
}

function setResponseHeader(c: Context<HonoEnv>, name: string, value: string): void {
  try {
    c.res.headers.set(name, value);
  } catch {
    // Immutable headers (a Response straight from fetch): copy it once.
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set(name, value);
  }
}

export interface AppOptions {
  /** What `/readyz` answers (default: the database answers within 1 s). The Node entry adds migrations and draining. */
  readiness?: Readiness;
}

/** The whole gateway as one Hono app; the Node and Workers entries only build `deps`. */
export function createApp(deps: Deps, options: AppOptions = {}): Hono<HonoEnv> {
  const app = new Hono<HonoEnv>();

  const metrics = deps.metrics;
  app.use(async function requestContext(c, next) {
    const incoming = deps.io.header(c, 'x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : newRequestId();
    c.set('requestId', requestId);
    // The config in force when the request arrived, to its end (a reload swaps it for later ones).
    c.set('deps', deps.current ? deps.current() : deps);
    await next();
    // On the finished response's own headers: c.header() here would rebuild the response around
    // its body stream, which costs a stream copy per request (and a hop per SSE chunk) on Node.
    setResponseHeader(c, 'x-request-id', requestId);
    metrics?.responded(c.req.path, c.res.status);
  });

  app.onError((error, c) => {
    const requestId = c.get('requestId') ?? newRequestId();
    if (error instanceof GatewayError) {
      return c.json(error.toJSON(), error.status, { ...error.headers, 'x-request-id': requestId });
    }
    deps.log(`tollgate: internal error on ${c.req.method} ${c.req.path} (${requestId}): ${safeStack(error)}`);
    return c.json(internalErrorBody(), 500, { 'x-request-id': requestId });
  });

  app.notFound((c) =>
    c.json(
      {
        error: {
          message: `Unknown request URL: ${c.req.method} ${c.req.path}.`,
          type: 'invalid_request_error',
          param: null,
          code: 'unknown_url',
        },
      },
      404,
    ),
  );

  // Liveness: the process answers. Readiness: it can admit requests (database, schema, not
  // draining) and serve them (every model has a replica that is healthy or answers its probe).
  app.get('/healthz', (c) => c.json({ status: 'ok', ledgerWaiting: deps.ledger.waiting }));
  const readiness = options.readiness ?? new Readiness({ store: deps.store });
  app.get('/readyz', async (c) => {
    const report = await readiness.check();
    if (!report.ready) return c.json({ status: 'unready', reason: report.reason, message: report.message }, 503, { 'retry-after': '1' });
    const current = c.get('deps');
    const unservable = await unservableModels(current.backends, current.fetch);
    if (unservable.length === 0) return c.json({ status: 'ready' });
    const message = `No replica of ${unservable.map((model) => `'${model}'`).join(', ')} is healthy.`;
    return c.json({ status: 'unready', reason: 'no_healthy_replica', message }, 503, { 'retry-after': '1' });
  });

  // Prometheus text format (Node). Workers have no /metrics: an isolate's counters are its own.
  app.get('/metrics', async (c) => {
    if (!metrics)
      throw new GatewayError(
        404,
        'This runtime serves no Prometheus metrics (on Workers: the request log, /admin/metrics and the ledger).',
        {
          code: 'metrics_unavailable',
        },
      );
    return c.body(await metrics.render(), 200, { 'content-type': metrics.contentType });
  });

  // Per instance: keys the shared rate window refused until the minute ends (see rate-gate.ts).
  const gate = new RateGate();
  app.use(
    '/v1/*',
    requireScope('proxy'),
    configuredLimit((config) => config.gateway.maxBodyBytes),
  );
  app.use(
    '/v1/estimate',
    configuredLimit((config) => config.gateway.estimateMaxBodyBytes),
  );
  registerOpenAiRoutes(app, gate);
  registerEstimateRoute(app, gate);

  app.use('/admin/*', requireScope('admin'), limitBody(64 * 1024));
  registerAdminKeyRoutes(app);
  registerAdminBudgetRoutes(app);
  registerAdminModelRoutes(app);
  registerAdminTeamRoutes(app);
  registerAdminReloadRoute(app);
  // Memory and queues, for operators: loaded encodings, cache fill, ledger rows waiting.
  app.get('/admin/metrics', (c) => c.json({ ledger: deps.ledgerStats(), tokenizer: tokenizerStats() }));

  // Finance: the operator token, or a key with the `reports` scope (a team-limited one sees its teams only);
  // reads also take a dashboard session, so the dashboard's CSV buttons are links to these routes.
  app.use('/reports/*', reportsAuth(), limitBody(1024 * 1024));
  registerReportRoutes(app);
  registerReportPeriodRoutes(app);

  // The dashboard: pages for a signed-in reports key or the operator (see http/dashboard).
  app.use('/dashboard/*', limitBody(64 * 1024));
  app.route('/', dashboardRoutes() as unknown as Hono<HonoEnv>);
  return app;
}

/** A body limit read from the request's config (a reload may change it), one middleware per config. */
function configuredLimit(limitOf: (config: Config) => number): MiddlewareHandler<HonoEnv> {
  const limits = new WeakMap<Config, MiddlewareHandler<HonoEnv>>();
  return function configuredBodyLimit(c, next) {
    const config = c.get('deps').config;
    let limit = limits.get(config);
    if (!limit) limits.set(config, (limit = limitBody(limitOf(config))));
    return limit(c, next);
  };
}

/**
 * An internal error for the log: its stack, with the message of a failed statement cut to its
 * driver cause (drizzle's message carries the SQL and its parameters, key hashes included).
 */
function safeStack(error: unknown): string {
  if (!(error instanceof Error)) return describeError(error);
  const frames = (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));
  return [`${error.name}: ${describeError(error)}`, ...frames].join('\n');
}
