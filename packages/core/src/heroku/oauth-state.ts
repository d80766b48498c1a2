import { createHmac, timingSafeEqual } from 'node:crypto';

/** OAuth `state`: the integration id and an expiry, signed with a key derived from SECRET_KEY. */
export function signOAuthState(secretKey: Buffer, integrationId: string, ttlMs = 10 * 60 * 1000): string {
  const payload = Buffer.from(JSON.stringify({ i: integrationId, e: Date.now() + ttlMs })).toString('base64url');
  return `${payload}.${mac(secretKey, payload)}`;
}

/** The integration id of a valid, unexpired state, or null. */
export function verifyOAuthState(secretKey: Buffer, state: string): string | null {
  const [payload, signature] = state.split('.');
  if (!payload || !signature) return null;
  const expected = Buffer.from(mac(secretKey, payload));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const { i, e } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { i?: unknown; e?: unknown };
    return typeof i === 'string' && typeof e === 'number' && e > Date.now() ? i : null;
  } catch {
    return null;
  }
}

function mac(secretKey: Buffer, payload: string): string {
  return createHmac('sha256', secretKey).update('heroku-oauth-state:').update(payload).digest('base64url');
}
