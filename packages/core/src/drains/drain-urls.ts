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

/** Every monitored app's drain URL, in the order of the list. */
export function drainUrls(publicUrl: string, secretKey: Buffer, integration: { id: string; drainSalt: string; monitoredApps: string[] }): { appName: string; url: string }[] {
  return integration.monitoredApps.map((appName) => ({ appName, url: `${publicUrl}/drains/heroku/${integration.id}/${appName}/${drainToken(secretKey, integration, appName)}` }));
}
