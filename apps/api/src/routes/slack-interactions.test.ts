import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifySlackSignature } from './slack-interactions.js';

const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const body = Buffer.from('payload=%7B%22type%22%3A%22block_actions%22%7D');
const sign = (ts: string, raw: Buffer = body, key = secret) => `v0=${createHmac('sha256', key).update(`v0:${ts}:`).update(raw).digest('hex')}`;

describe('Slack request signing', () => {
  const now = 1_700_000_000;
  it('accepts a fresh, correctly signed request', () => {
    expect(verifySlackSignature(secret, String(now), body, sign(String(now)), now)).toBe(true);
    expect(verifySlackSignature(secret, String(now - 299), body, sign(String(now - 299)), now)).toBe(true);
  });
  it('refuses stale, future, unsigned, tampered or foreign signatures', () => {
    expect(verifySlackSignature(secret, String(now - 301), body, sign(String(now - 301)), now)).toBe(false);
    expect(verifySlackSignature(secret, String(now + 301), body, sign(String(now + 301)), now)).toBe(false);
    expect(verifySlackSignature(secret, undefined, body, sign(String(now)), now)).toBe(false);
    expect(verifySlackSignature(secret, String(now), body, undefined, now)).toBe(false);
    expect(verifySlackSignature(secret, String(now), Buffer.from(`${body}x`), sign(String(now)), now)).toBe(false);
    expect(verifySlackSignature(secret, String(now), body, sign(String(now), body, 'other-secret'), now)).toBe(false);
    expect(verifySlackSignature(secret, 'abc', body, sign('abc'), now)).toBe(false);
  });
});
