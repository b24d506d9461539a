import { describe, expect, test } from 'vitest';
import { credentialFingerprint, csrfToken, readSession, type Session, signSession } from '../../../src/auth/session';
import { safeNext } from '../../../src/http/dashboard/sign-in';

const KEY = 'tgsess_test_signing_secret';
const NOW = Date.parse('2026-11-21T12:00:00Z');
const session: Session = {
  principal: { kind: 'key', keyId: 'key_abc' },
  credential: credentialFingerprint(KEY, 'a'.repeat(64)),
  expiresAt: NOW + 3_600_000,
  nonce: 'nonce-1',
};

describe('session cookies', () => {
  test('a signed session reads back as itself until it expires', () => {
    const cookie = signSession(KEY, session);
    expect(readSession(KEY, cookie, NOW)).toEqual({ ok: true, session });
    expect(readSession(KEY, cookie, session.expiresAt - 1).ok).toBe(true);
    expect(readSession(KEY, cookie, session.expiresAt)).toEqual({ ok: false, reason: 'expired' });
    const operator = signSession(KEY, { ...session, principal: { kind: 'operator' } });
    expect(readSession(KEY, operator, NOW)).toMatchObject({ ok: true, session: { principal: { kind: 'operator' } } });
  });

  test('a changed payload, a changed MAC, another signing key or junk is refused', () => {
    const cookie = signSession(KEY, session);
    const [version, payload, mac] = cookie.split('.') as [string, string, string];
    const other = Buffer.from(JSON.stringify({ p: 'operator', c: session.credential, e: session.expiresAt, n: 'x' })).toString('base64url');
    const later = Buffer.from(
      JSON.stringify({ p: 'key:key_abc', c: session.credential, e: session.expiresAt + 9e9, n: 'nonce-1' }),
    ).toString('base64url');
    for (const forged of [
      `${version}.${other}.${mac}`,
      `${version}.${later}.${mac}`,
      `${version}.${payload}.${mac.slice(0, -2)}AA`,
      `v2.${payload}.${mac}`,
      signSession('another-secret', session),
      'v1..',
      'garbage',
      '',
    ]) {
      expect(readSession(KEY, forged, NOW), forged).toEqual({ ok: false, reason: 'invalid' });
    }
  });

  test('the CSRF token is per session, and the credential fingerprint follows the credential', () => {
    expect(csrfToken(KEY, session)).toBe(csrfToken(KEY, { ...session }));
    expect(csrfToken(KEY, session)).not.toBe(csrfToken(KEY, { ...session, nonce: 'nonce-2' }));
    expect(csrfToken('another-secret', session)).not.toBe(csrfToken(KEY, session));
    expect(credentialFingerprint(KEY, 'a'.repeat(64))).toBe(session.credential);
    expect(credentialFingerprint(KEY, 'b'.repeat(64))).not.toBe(session.credential);
  });

  test.each([
    ['/dashboard/budgets?team=x', '/dashboard/budgets?team=x'],
    ['/dashboard', '/dashboard'],
    ['/dashboardx', '/dashboard'],
    ['https://evil.example/dashboard', '/dashboard'],
    ['//evil.example/dashboard', '/dashboard'],
    ['/reports/usage', '/dashboard'],
    [null, '/dashboard'],
  ])('after sign-in %s goes to %s', (next, expected) => {
    expect(safeNext(next)).toBe(expected);
  });
});
