import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Caller, Deps, HonoEnv } from '../deps';
import { getAdminSecretHash, initAdminSecretHash } from '../store/admin-secrets';
import type { Store } from '../store/db';
import { getKey, isKeyLive } from '../store/keys';
import { requireScope } from './middleware';
import { generateSecret, sha256Hex, timingSafeEqual } from './secrets';

// Dashboard sessions: a signed cookie, no server-side state. It carries who signed in (the
// operator, or a `reports` key by id), a fingerprint of the credential used (the operator token's
// hash or the key's hash, so rotating either ends its sessions), an expiry, and a random nonce that
// seeds the session's CSRF token. The HMAC key is one random secret stored once in `admin_secrets`,
// so every instance (Node or Workers) signs and checks alike. A key's session is re-checked against
// its row on every request: a revoked, expired, rotated or descoped key's session stops at once.

export const SESSION_COOKIE = 'tg_session';
/** How long a session lasts after sign-in. */
export const SESSION_TTL_MS = 8 * 3_600_000;
/** The admin_secrets row holding the signing secret (created on first use). */
export const SESSION_SECRET_NAME = 'dashboard-session';

export type SessionPrincipal = { kind: 'operator' } | { kind: 'key'; keyId: string };

export interface Session {
  principal: SessionPrincipal;
  /** Fingerprint of the credential that signed in (see `credentialFingerprint`). */
  credential: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** Random; seeds the CSRF token of this session. */
  nonce: string;
}

const base64url = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');
const mac = (key: string, purpose: string, text: string) => createHmac('sha256', key).update(`${purpose}\n${text}`).digest('base64url');

/**
 * The cookie value of a session: `v1.<payload>.<mac>`, the payload base64url JSON.
 *
 * @example signSession(key, { principal: { kind: 'operator' }, credential, expiresAt: Date.now() + SESSION_TTL_MS, nonce: newNonce() })
 */
export function signSession(key: string, session: Session): string {
  const principal = session.principal.kind === 'operator' ? 'operator' : `key:${session.principal.keyId}`;
  const payload = base64url(JSON.stringify({ p: principal, c: session.credential, e: session.expiresAt, n: session.nonce }));
  return `v1.${payload}.${mac(key, 'tollgate session v1', payload)}`;
}

export type SessionCheck = { ok: true; session: Session } | { ok: false; reason: 'invalid' | 'expired' };

/** A cookie value back to its session, if its MAC is ours and it has not expired at `now` (epoch ms). */
export function readSession(key: string, text: string, now: number): SessionCheck {
  const parts = text.split('.');
  if (parts.length !== 3 || parts[0] !== 'v1') return { ok: false, reason: 'invalid' };
  const [, payload, given] = parts as [string, string, string];
  if (!timingSafeEqual(given, mac(key, 'tollgate session v1', payload))) return { ok: false, reason: 'invalid' };
  let fields: { p?: unknown; c?: unknown; e?: unknown; n?: unknown };
  try {
    fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  const { p, c, e, n } = fields;
  if (typeof p !== 'string' || typeof c !== 'string' || typeof e !== 'number' || typeof n !== 'string')
    return { ok: false, reason: 'invalid' };
  if (e <= now) return { ok: false, reason: 'expired' };
  const principal: SessionPrincipal | null =
    p === 'operator' ? { kind: 'operator' } : p.startsWith('key:') ? { kind: 'key', keyId: p.slice(4) } : null;
  if (!principal) return { ok: false, reason: 'invalid' };
  return { ok: true, session: { principal, credential: c, expiresAt: e, nonce: n } };
}

/** The fingerprint a session keeps of the credential's SHA-256 hash: it changes when the credential is rotated. */
export function credentialFingerprint(key: string, credentialHash: string): string {
  return mac(key, 'tollgate credential', credentialHash).slice(0, 22);
}

/** The CSRF token of a session: every state-changing form carries it, and it is checked before anything changes. */
export function csrfToken(key: string, session: Session): string {
  return mac(key, 'tollgate csrf', session.nonce).slice(0, 32);
}

/** A random nonce for a new session or a sign-in form. */
export function newNonce(): string {
  return generateSecret('', 24);
}

// One signing secret per store (the Workers invocation scope keeps one store object per isolate).
const secrets = new WeakMap<Store, Promise<string>>();

/**
 * The HMAC key every instance shares: a random secret written to `admin_secrets` by the first
 * instance that needs it (insert-if-absent), then read by all. Deleting that row (and restarting)
 * ends every session.
 */
export function sessionKey(store: Store): Promise<string> {
  let secret = secrets.get(store);
  if (!secret) {
    secret = (async () => {
      await initAdminSecretHash(store, generateSecret('tgsess_', 43), SESSION_SECRET_NAME);
      const stored = await getAdminSecretHash(store, SESSION_SECRET_NAME);
      if (!stored) throw new Error('the dashboard session secret could not be stored');
      return stored;
    })();
    secrets.set(store, secret);
    // A failure (the database away) is not remembered: the next request tries again.
    secret.catch(() => secrets.delete(store));
  }
  return secret;
}

export type SignIn = { ok: true; caller: Caller; credentialHash: string } | { ok: false; reason: 'unknown' | 'scope' };

/**
 * Who a token signs in as: the operator token, or a live key with the `reports` scope. A key
 * without it (an application key) is refused as such; anything else is unknown.
 */
export async function signInCaller(deps: Deps, token: string): Promise<SignIn> {
  const hash = sha256Hex(token.trim());
  if (timingSafeEqual(hash, deps.adminTokenHash)) {
    return { ok: true, caller: { kind: 'operator', name: 'operator', scopes: ['reports', 'admin'] }, credentialHash: hash };
  }
  const caller = token.trim() === '' ? null : await deps.findKey(hash, { fresh: true });
  if (!caller) return { ok: false, reason: 'unknown' };
  if (!caller.scopes.includes('reports')) return { ok: false, reason: 'scope' };
  return { ok: true, caller, credentialHash: hash };
}

export type SessionState =
  | { state: 'none' }
  | { state: 'invalid'; reason: 'invalid' | 'expired' | 'revoked' }
  | { state: 'valid'; session: Session; caller: Caller; csrf: string };

/**
 * The request's session, checked: the cookie's MAC and expiry, then the credential as it is now
 * (the operator token unchanged; the key live, still holding `reports`, not rotated).
 */
export async function sessionOf(c: Context<HonoEnv>): Promise<SessionState> {
  const text = getCookie(c, SESSION_COOKIE);
  if (!text) return { state: 'none' };
  const deps = c.var.deps;
  const key = await sessionKey(deps.store);
  const check = readSession(key, text, deps.now().getTime());
  if (!check.ok) return { state: 'invalid', reason: check.reason };
  const { session } = check;
  const valid = (caller: Caller): SessionState => ({ state: 'valid', session, caller, csrf: csrfToken(key, session) });
  if (session.principal.kind === 'operator') {
    if (!timingSafeEqual(session.credential, credentialFingerprint(key, deps.adminTokenHash)))
      return { state: 'invalid', reason: 'revoked' };
    return valid({ kind: 'operator', name: 'operator', scopes: ['reports', 'admin'] });
  }
  const record = await getKey(deps.store, session.principal.keyId);
  if (
    !record ||
    !isKeyLive(record, deps.now()) ||
    !record.scopes.includes('reports') ||
    !timingSafeEqual(session.credential, credentialFingerprint(key, record.hash))
  ) {
    return { state: 'invalid', reason: 'revoked' };
  }
  return valid({
    kind: 'key',
    keyId: record.id,
    name: record.name,
    teamId: record.teamId,
    scopes: record.scopes,
    allowedModels: record.allowedModels,
    options: record.options,
    hasBudget: false,
  });
}

/** Whether the request came over https (directly, or through a proxy that says so). */
export function isHttps(c: Context<HonoEnv>): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';
}

/**
 * `/reports/*` for a bearer token (as `requireScope('reports')`), or, for reads (GET, HEAD) with
 * no Authorization header, a dashboard session: so the dashboard's CSV buttons are links to the
 * API itself, with the reader's scope and team limits. Nothing that changes state takes a cookie.
 *
 * @example app.use('/reports/*', reportsAuth())
 */
export function reportsAuth(): MiddlewareHandler<HonoEnv> {
  const bearer = requireScope('reports');
  return async function reportsAuthMiddleware(c, next) {
    const read = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (read && c.req.header('authorization') === undefined && getCookie(c, SESSION_COOKIE)) {
      const found = await sessionOf(c);
      if (found.state === 'valid') {
        c.set('caller', found.caller);
        return next();
      }
    }
    return bearer(c, next);
  };
}
