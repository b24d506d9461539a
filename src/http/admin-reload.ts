import type { Hono } from 'hono';
import type { HonoEnv } from '../deps';
import { GatewayError } from '../errors';
import { auditActor } from './admin-teams';

/**
 * `POST /admin/reload`: re-reads the config file, as SIGHUP does. A file that does not validate
 * changes nothing: 400 with the fields it got wrong. Requests already running finish on the
 * config they started with.
 */
export function registerAdminReloadRoute(app: Hono<HonoEnv>): void {
  app.post('/admin/reload', async (c) => {
    const { reload } = c.get('deps');
    if (!reload)
      throw new GatewayError(501, 'This gateway has no config file to reload (on Workers, deploy the new config instead).', {
        code: 'reload_unavailable',
      });
    const report = await reload(auditActor(c), c.get('requestId'));
    if (!report.ok) throw new GatewayError(400, `The config was not reloaded: ${report.message}`, { code: 'invalid_config' });
    return c.json({ status: 'reloaded', models: report.models, replicas: report.replicas, repriced: report.repriced });
  });
}
