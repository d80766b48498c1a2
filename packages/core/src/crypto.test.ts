import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, signHerokuBody, verifyHerokuSignature } from './crypto.js';
import { WEBHOOK_EXAMPLES_DIR, hmacVectors } from '../../../test/support/fixtures.js';

describe('Heroku webhook signatures', () => {
  const vectors = hmacVectors();

  it.each(vectors.map((v) => [v.body_file ?? 'inline body', v] as const))('matches the published test vector (%s)', (_name, vector) => {
    const body = vector.body_utf8 !== undefined
      ? Buffer.from(vector.body_utf8, 'utf8')
      : readFileSync(path.join(WEBHOOK_EXAMPLES_DIR, 'real', vector.body_file!.split(' ')[0]!));
    expect(signHerokuBody(vector.secret, body)).toBe(vector['Heroku-Webhook-Hmac-SHA256']);
    expect(verifyHerokuSignature(vector.secret, body, vector['Heroku-Webhook-Hmac-SHA256'])).toBe(true);
  });

  it('rejects a signature for other bytes, another secret, or garbage', () => {
    const [vector] = vectors;
    const body = Buffer.from(vector!.body_utf8!, 'utf8');
    const good = vector!['Heroku-Webhook-Hmac-SHA256'];
    expect(verifyHerokuSignature(vector!.secret, Buffer.concat([body, Buffer.from(' ')]), good)).toBe(false);
    expect(verifyHerokuSignature('other-secret', body, good)).toBe(false);
    expect(verifyHerokuSignature(vector!.secret, body, 'garbage')).toBe(false);
    expect(verifyHerokuSignature(vector!.secret, body, '')).toBe(false);
    // Hex of the right HMAC is not base64 of it.
    const hex = Buffer.from(good, 'base64').toString('hex');
    expect(verifyHerokuSignature(vector!.secret, body, hex)).toBe(false);
  });
});

describe('secrets at rest', () => {
  const key = Buffer.alloc(32, 7);

  it('round-trips and never contains the plaintext', () => {
    const sealed = encryptSecret(key, 'heroku-token-123');
    expect(sealed).not.toContain('heroku-token-123');
    expect(decryptSecret(key, sealed)).toBe('heroku-token-123');
    expect(encryptSecret(key, 'same')).not.toBe(encryptSecret(key, 'same'));
  });

  it('fails with the wrong key or a tampered value', () => {
    const sealed = encryptSecret(key, 'secret');
    expect(() => decryptSecret(Buffer.alloc(32, 8), sealed)).toThrow();
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => decryptSecret(key, parts.join('.'))).toThrow();
    expect(() => decryptSecret(key, 'not-sealed')).toThrow(/unrecognised/);
  });
});
