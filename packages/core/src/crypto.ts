import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** base64(HMAC-SHA256(secret, body)), the value Heroku sends in `Heroku-Webhook-Hmac-SHA256`. */
export function signHerokuBody(secret: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

/** Constant-time check of a Heroku webhook signature header against the raw body bytes. */
export function verifyHerokuSignature(secret: string, body: Buffer, header: string): boolean {
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(header.trim(), 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Constant-time equality of two strings (compares their SHA-256 digests, so lengths leak nothing). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function sha256Hex(value: string | Buffer): string {
  return createHash('sha256').update(value).digest('hex');
}

/** A new API token: `pb_` and 32 random bytes in base64url. */
export function generateApiToken(): string {
  return `pb_${randomBytes(32).toString('base64url')}`;
}

/** A new webhook signing secret: 32 random bytes as hex. */
export function generateWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}

const CIPHER_VERSION = 'v1';

/** AES-256-GCM under `key`; the result is `v1.<iv>.<tag>.<ciphertext>` in base64url. */
export function encryptSecret(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [CIPHER_VERSION, iv, cipher.getAuthTag(), ciphertext].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}

/** Reverses `encryptSecret`; throws when the key is wrong or the value was tampered with. */
export function decryptSecret(key: Buffer, sealed: string): string {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== CIPHER_VERSION || iv === undefined || tag === undefined || ciphertext === undefined) {
    throw new Error('unrecognised encrypted value');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
