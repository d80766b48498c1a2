import { createHmac } from 'node:crypto';
import { safeEqual } from '../crypto.js';

/**
 * Drain URLs: one per monitored app, `<PUBLIC_URL>/drains/heroku/<integration>/<app>/<token>`.
 * Logplex signs nothing, so the URL carries the secret: the token is an HMAC under a key derived
 * from SECRET_KEY of the integration id, its drain salt and the app name. Nothing to store, the
 * same in every process, and a new salt changes every URL of the integration.
 */
const TOKEN_LENGTH = 32;

const tokenKeys = new WeakMap<Buffer, Buffer>();
function tokenKey(secretKey: Buffer): Buffer {
  let key = tokenKeys.get(secretKey);
  if (key === undefined) tokenKeys.set(secretKey, (key = createHmac('sha256', secretKey).update('pulsebridge log drain tokens').digest()));
  return key;
}

export function drainToken(secretKey: Buffer, integration: { id: string; drainSalt: string }, appName: string): string {
  return createHmac('sha256', tokenKey(secretKey)).update(`${integration.id.toLowerCase()}\n${integration.drainSalt}\n${appName}`).digest('base64url').slice(0, TOKEN_LENGTH);
}

export function verifyDrainToken(secretKey: Buffer, integration: { id: string; drainSalt: string }, appName: string, token: string): boolean {
  return token.length === TOKEN_LENGTH && safeEqual(drainToken(secretKey, integration, appName), token);
}

export const DRAIN_PATH = /^\/drains\/heroku\/([^/?#]+)\/([^/?#]+)\/([^/?#]+)\/?(?:\?.*)?$/;

/**
 * A request target fit for logs: without its query, and without the token of a drain URL (which
 * is the drain's secret).
 */
export function loggableUrl(url: string | undefined): string {
  const path = (url ?? '').replace(/[?#].*$/s, '');
  return path.replace(/^(\/+drains\/+heroku\/+[^/]*\/+[^/]*\/).*$/is, '$1[token]');
}

/** Every monitored app's drain URL, in the order of the list. */
export function drainUrls(publicUrl: string, secretKey: Buffer, integration: { id: string; drainSalt: string; monitoredApps: string[] }): { appName: string; url: string }[] {
  // Heroku's app names need no escaping; a name given otherwise is encoded, and decoded by the route.
  return integration.monitoredApps.map((appName) => ({ appName, url: `${publicUrl}/drains/heroku/${integration.id}/${encodeURIComponent(appName)}/${drainToken(secretKey, integration, appName)}` }));
}
