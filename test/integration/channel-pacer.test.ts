import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { PacingWaitTooLong, createChannelPacer, deleteKeysMatching } from '@pulsebridge/core';
import { REDIS_URL } from '../support/services.js';

const INTERVAL_MS = 300;
let redis: Redis;
const prefix = `${inject('runId')}-pacer-${randomBytes(4).toString('hex')}`;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  await deleteKeysMatching(redis, `${prefix}:*`);
  redis.disconnect();
});

/** Acquires a slot and says how long it took, or how long the pacer asked to wait. */
async function attempt(pacer: ReturnType<typeof createChannelPacer>, channel: string): Promise<{ sentAfterMs: number } | { busyForMs: number }> {
  const started = Date.now();
  try {
    await pacer.acquire(channel);
    return { sentAfterMs: Date.now() - started };
  } catch (error) {
    if (error instanceof PacingWaitTooLong) return { busyForMs: error.waitMs };
    throw error;
  }
}

describe('Slack channel pacing', () => {
  it('a quiet channel takes a short burst at once, then one message per interval; other channels are not held up', async () => {
    const pacer = createChannelPacer(redis, { prefix, intervalMs: INTERVAL_MS, burst: 3 });
    // The connection and the pacer's script are ready first: their set-up is no wait for a slot.
    await attempt(pacer, '#warm-up');
    const burst = [await attempt(pacer, '#ops'), await attempt(pacer, '#ops'), await attempt(pacer, '#ops')];
    for (const result of burst) expect(result).toMatchObject({ sentAfterMs: expect.any(Number) });
    // At once: well within the interval a fourth would wait.
    expect(burst.map((result) => ('sentAfterMs' in result ? result.sentAfterMs : Infinity)).every((ms) => ms < INTERVAL_MS / 2)).toBe(true);
    // The fourth would wait an interval: more than a job may hold its slot, so it steps aside.
    const fourth = await attempt(pacer, '#ops');
    expect('busyForMs' in fourth && fourth.busyForMs).toBeGreaterThan(INTERVAL_MS - 60);
    expect(await attempt(pacer, '#deploys')).toMatchObject({ sentAfterMs: expect.any(Number) });
    // Stepping aside reserved nothing: after one interval exactly one more fits.
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
    expect(await attempt(pacer, '#ops')).toMatchObject({ sentAfterMs: expect.any(Number) });
    expect(await attempt(pacer, '#ops')).toMatchObject({ busyForMs: expect.any(Number) });
  });

  it('after a 429 nobody sends until Retry-After has passed, and then one per interval, without a burst', async () => {
    const pacer = createChannelPacer(redis, { prefix, intervalMs: INTERVAL_MS, burst: 3 });
    await pacer.block('#alerts', 600);
    const during = await attempt(pacer, '#alerts');
    expect('busyForMs' in during && during.busyForMs).toBeGreaterThan(500);
    await new Promise((resolve) => setTimeout(resolve, 620));
    expect(await attempt(pacer, '#alerts')).toMatchObject({ sentAfterMs: expect.any(Number) });
    const next = await attempt(pacer, '#alerts');
    expect('busyForMs' in next && next.busyForMs).toBeGreaterThan(INTERVAL_MS - 60);
  });

  it('with a burst of 1 it is a plain interval', async () => {
    const pacer = createChannelPacer(redis, { prefix, intervalMs: INTERVAL_MS, burst: 1 });
    expect(await attempt(pacer, '#single')).toMatchObject({ sentAfterMs: expect.any(Number) });
    expect(await attempt(pacer, '#single')).toMatchObject({ busyForMs: expect.any(Number) });
  });
});
