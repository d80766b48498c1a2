import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '@pulsebridge/core';
import { z } from 'zod';
import { decodeComponent } from '../http/request-guard.js';

export const SESSION_COOKIE = 'pb_session';
const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** What the session cookie carries; the token itself is never stored in it. */
export interface Session {
  tokenId: string;
  name: string;
  role: 'admin' | 'responder';
  /** Random per sign-in; the CSRF token is derived from it. */
  nonce: string;
  expiresAt: number;
}

const mac = (key: Buffer, purpose: string, value: string) => createHmac('sha256', key).update(`${purpose}:`).update(value).digest('base64url');

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createSession(principal: Principal): Session {
  return { tokenId: principal.tokenId, name: principal.name, role: principal.role, nonce: randomBytes(16).toString('base64url'), expiresAt: Date.now() + SESSION_TTL_MS };
}

/** `payload.signature`, signed with a key derived from SECRET_KEY. */
export function encodeSession(key: Buffer, session: Session): string {
  const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
  return `${payload}.${mac(key, 'session', payload)}`;
}

const SessionSchema = z.object({
  tokenId: z.string().regex(/^[A-Za-z0-9-]{1,100}$/),
  name: z.string(),
  role: z.enum(['admin', 'responder']),
  nonce: z.string().min(1),
  expiresAt: z.number(),
});

export function decodeSession(key: Buffer, value: string | null | undefined): Session | null {
  if (!value) return null;
  const [payload, signature] = value.split('.');
  if (!payload || !signature || !safeEqual(signature, mac(key, 'session', payload))) return null;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  // Signed by us, yet checked whole: a session written by an older version may lack a field.
  const session = SessionSchema.safeParse(json);
  return session.success && session.data.expiresAt > Date.now() ? session.data : null;
}

/** The CSRF token of a session: forms carry it, every POST must match it. */
export function csrfToken(key: Buffer, session: Session): string {
  return mac(key, 'csrf', session.nonce);
}

export function checkCsrf(key: Buffer, session: Session, given: unknown): boolean {
  return typeof given === 'string' && safeEqual(given, csrfToken(key, session));
}

/** Cookies by name; a value that is not valid percent-encoding or holds a NUL byte is `null` (no cookie of ours looks so). */
export function parseCookies(header: string | undefined): Record<string, string | null> {
  const cookies: Record<string, string | null> = Object.create(null);
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    const name = part.slice(0, index).trim();
    if (name) cookies[name] = decodeComponent(part.slice(index + 1).trim());
  }
  return cookies;
}
