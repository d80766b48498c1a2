import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '@pulsebridge/core';

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

export function decodeSession(key: Buffer, value: string | undefined): Session | null {
  if (!value) return null;
  const [payload, signature] = value.split('.');
  if (!payload || !signature || !safeEqual(signature, mac(key, 'session', payload))) return null;
  try {
    const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
    return session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

/** The CSRF token of a session: forms carry it, every POST must match it. */
export function csrfToken(key: Buffer, session: Session): string {
  return mac(key, 'csrf', session.nonce);
}

export function checkCsrf(key: Buffer, session: Session, given: unknown): boolean {
  return typeof given === 'string' && safeEqual(given, csrfToken(key, session));
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    const name = part.slice(0, index).trim();
    if (name) cookies[name] = decodeURIComponent(part.slice(index + 1).trim());
  }
  return cookies;
}
