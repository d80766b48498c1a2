import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSession, decodeSession, encodeSession, parseCookies } from './session.js';

const key = randomBytes(32);
/** Signs any payload the way encodeSession does, as a holder of the key could. */
const signed = (payload: unknown) => {
  const encoded = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${encoded}.${createHmac('sha256', key).update('session:').update(encoded).digest('base64url')}`;
};

describe('cookies', () => {
  it('decodes values and marks the ones that do not decode or hold a NUL byte as null', () => {
    const cookies = parseCookies('a=1; b=x%20y; bad=%E0%A4%A; nul=%00; trunc=%; pb_session=abc.def');
    expect({ ...cookies }).toEqual({ a: '1', b: 'x y', bad: null, nul: null, trunc: null, pb_session: 'abc.def' });
    expect(parseCookies(undefined)).toEqual({});
    expect(parseCookies('__proto__=x; constructor=y').constructor).toBe('y');
  });
});

describe('sessions', () => {
  it('round-trip', () => {
    const session = createSession({ tokenId: 'admin-token', name: 'admin', role: 'admin' } as never);
    expect(decodeSession(key, encodeSession(key, session))).toEqual(session);
  });

  it('a correctly signed payload of the wrong shape is no session', () => {
    const future = Date.now() + 60_000;
    for (const payload of [null, [], 'x', 42, {}, { expiresAt: future }, { tokenId: '\u0000', name: 'a', role: 'admin', nonce: 'n', expiresAt: future }, { tokenId: 'admin-token', name: 'a', role: 'root', nonce: 'n', expiresAt: future }, { tokenId: 'admin-token', name: 'a', role: 'admin', nonce: 'n', expiresAt: 'never' }]) {
      expect(decodeSession(key, signed(payload)), JSON.stringify(payload)).toBeNull();
    }
    expect(decodeSession(key, signed({ tokenId: 'admin-token', name: 'a', role: 'admin', nonce: 'n', expiresAt: future }))).not.toBeNull();
    expect(decodeSession(key, null)).toBeNull();
  });
});
