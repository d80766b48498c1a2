import type { Redis } from 'ioredis';

/** Slack rejects requests signed more than five minutes away from now; so do we. */
export const SLACK_MAX_SKEW_SECONDS = 5 * 60;

/**
 * What is known of a verified Slack request, by its signature: `first` (never seen: this call
 * now owns it), `pending` (another call is acting on it) or `done` (it was answered below 500).
 */
export type SlackRequestSighting = 'first' | 'pending' | 'done';

/**
 * Records a verified Slack request's signature in Redis for as long as its timestamp passes the
 * skew check (after that the signature check refuses it anyway). `SET NX` makes exactly one
 * API process, of any number, see it first; the others learn whether it is still being acted
 * on or was answered.
 */
export async function rememberSlackRequest(redis: Redis, key: string, timestampSeconds: number, nowMs = Date.now()): Promise<SlackRequestSighting> {
  const ttlMs = Math.max(1_000, (timestampSeconds + SLACK_MAX_SKEW_SECONDS) * 1000 - nowMs + 1_000);
  if ((await redis.set(key, 'pending', 'PX', Math.ceil(ttlMs), 'NX')) === 'OK') return 'first';
  // Gone in between: the first call failed and forgot it, so this one may act.
  const state = await redis.get(key);
  if (state === null) return (await redis.set(key, 'pending', 'PX', Math.ceil(ttlMs), 'NX')) === 'OK' ? 'first' : 'pending';
  return state === 'done' ? 'done' : 'pending';
}

/** The request was answered: below 500 it is done (kept until it expires), otherwise forgotten so a retry acts. */
export async function settleSlackRequest(redis: Redis, key: string, statusCode: number): Promise<void> {
  if (statusCode >= 500) await redis.del(key);
  else await redis.set(key, 'done', 'KEEPTTL', 'XX');
}
