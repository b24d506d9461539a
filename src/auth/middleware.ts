import type { MiddlewareHandler } from 'hono';
import type { HonoEnv } from '../deps';
import { GatewayError } from '../errors';
import { sha256Hex, timingSafeEqual } from './secrets';

export type Scope = 'proxy' | 'reports' | 'admin';

const unauthorized = () =>
  new GatewayError(401, 'Incorrect API key provided. You can find your API key with your tollgate operator.', {
    code: 'invalid_api_key',
  });

/**
 * Admits a request whose bearer secret grants `scope`. Unknown, revoked and expired keys get one
 * identical 401; a live key outside its scope gets 403. The operator token holds every scope.
 *
 * @example app.use('/v1/*', requireScope('proxy'))
 */
export function requireScope(scope: Scope): MiddlewareHandler<HonoEnv> {
  return async function requireScopeMiddleware(c, next) {
    const deps = c.get('deps');
    const header = deps.io.header(c, 'authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthorized();
    const hash = sha256Hex(match[1]!);
    if (timingSafeEqual(hash, deps.adminTokenHash)) {
      // Every /v1 request is billed to a key, so the operator token does not proxy.
      if (scope === 'proxy')
        throw new GatewayError(403, 'The operator token cannot call /v1; create an API key with the proxy scope.', {
          code: 'insufficient_scope',
        });
      c.set('caller', { kind: 'operator', name: 'operator', scopes: ['reports', 'admin'] });
      return next();
    }
    // The proxy path uses cached auth (admission re-checks the key in the same statement that
    // reserves); every other scope is checked against the database on each request.
    let caller = await deps.findKey(hash, { fresh: scope !== 'proxy' });
    // A cached answer may predate a scope granted on another instance: a refusal is re-checked.
    if (caller && !caller.scopes.includes(scope) && scope === 'proxy') caller = await deps.findKey(hash, { fresh: true });
    if (!caller) throw unauthorized();
    if (!caller.scopes.includes(scope)) {
      throw new GatewayError(403, `This key does not have the '${scope}' scope.`, { code: 'insufficient_scope' });
    }
    c.set('caller', caller);
    return next();
  };
}
