import type { Redis } from 'ioredis';

/** Slack rejects requests signed more than five minutes away from now; so do we. */
export const SLACK_MAX_SKEW_SECONDS = 5 * 60;

/**
 * Records a verified Slack request's signature in Redis for as long as its timestamp passes the
 * skew check (after that the signature check refuses it anyway). `SET NX` makes exactly one
 * API process, of any number, see it first. True when this is the first sighting.
 */
export async function rememberSlackRequest(redis: Redis, key: string, timestampSeconds: number, nowMs = Date.now()): Promise<boolean> {
  const ttlMs = Math.max(1_000, (timestampSeconds + SLACK_MAX_SKEW_SECONDS) * 1000 - nowMs + 1_000);
  return (await redis.set(key, '1', 'PX', Math.ceil(ttlMs), 'NX')) === 'OK';
}
