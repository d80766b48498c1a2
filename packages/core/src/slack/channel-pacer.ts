import type { Redis } from 'ioredis';

/**
 * A generic cell rate algorithm: the key holds the channel's theoretical next send time (TAT).
 * A send may start once `TAT - (burst - 1) * interval` is reached, so a quiet channel takes
 * `burst` messages at once and then one per `interval`. Reserves the slot when it is at most
 * `maxWait` away and returns the wait; a caller that would wait longer gets the wait without
 * reserving anything (so stepping aside never pushes the channel's slots further out). A channel
 * Slack blocked (429) answers minus the time left on the block.
 */
const RESERVE = `
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return -blocked end
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local maxWait = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local tat = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local wait = math.max(0, tat - (burst - 1) * interval - now)
if wait <= maxWait then
  redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', 3600000)
end
return wait
`;

/** After a 429 the channel starts again with an empty bucket: one message per interval. */
const BLOCK = `
local untilAt = tonumber(ARGV[1])
local ms = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local tat = untilAt + (burst - 1) * interval
if tat > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], tostring(tat), 'PX', 3600000) end
if redis.call('PTTL', KEYS[2]) < ms then redis.call('SET', KEYS[2], '1', 'PX', ms) end
return 1
`;

export interface ChannelPacer {
  /**
   * Waits for the channel's next slot, or throws PacingWaitTooLong when that is further away
   * than `maxWaitMs` or Slack has since asked everyone to wait (a 429 while this one waited).
   */
  acquire(channel: string): Promise<void>;
  /** Slack said wait: nobody sends to this channel for `ms`. */
  block(channel: string, ms: number): Promise<void>;
}

export class PacingWaitTooLong extends Error {
  constructor(readonly waitMs: number) {
    super(`channel busy for ${waitMs} ms`);
    this.name = 'PacingWaitTooLong';
  }
}

/**
 * About one message per second per channel (Slack's limit, which allows short bursts), shared
 * by every worker through Redis.
 */
type PacerRedis = Redis & {
  pulsebridgePaceReserve(pace: string, blocked: string, now: string, intervalMs: string, maxWaitMs: string, burst: string): Promise<number>;
  pulsebridgePaceBlock(pace: string, blocked: string, untilAt: string, ms: string, intervalMs: string, burst: string): Promise<number>;
};

export function createChannelPacer(redis: Redis, options: { prefix: string; intervalMs: number; burst?: number; maxWaitMs?: number }): ChannelPacer {
  // Scripts run by their digest (EVALSHA), not sent in full on every call.
  const scripts = redis as PacerRedis;
  if (!('pulsebridgePaceReserve' in redis)) {
    redis.defineCommand('pulsebridgePaceReserve', { numberOfKeys: 2, lua: RESERVE });
    redis.defineCommand('pulsebridgePaceBlock', { numberOfKeys: 2, lua: BLOCK });
  }
  // `#ops`, `ops` and `#Ops` are one channel to Slack, and so one pace.
  const name = (channel: string) => channel.replace(/^#/, '').toLowerCase();
  const key = (channel: string) => `${options.prefix}:slack:pace:${name(channel)}`;
  const blockedKey = (channel: string) => `${options.prefix}:slack:blocked:${name(channel)}`;
  // Longer waits free the worker slot: the job is delayed until the channel has room.
  const maxWaitMs = options.maxWaitMs ?? 100;
  const burst = String(options.burst ?? 1);
  return {
    async acquire(channel) {
      const wait = Number(await scripts.pulsebridgePaceReserve(key(channel), blockedKey(channel), String(Date.now()), String(options.intervalMs), String(maxWaitMs), burst));
      if (wait < 0 || wait > maxWaitMs) throw new PacingWaitTooLong(Math.abs(wait));
      if (wait === 0) return;
      await new Promise((resolve) => setTimeout(resolve, wait));
      // Slack may have said wait (a 429 to another worker) while this one waited.
      const blockedFor = await redis.pttl(blockedKey(channel));
      if (blockedFor > 0) throw new PacingWaitTooLong(blockedFor);
    },
    async block(channel, ms) {
      await scripts.pulsebridgePaceBlock(key(channel), blockedKey(channel), String(Date.now() + ms), String(ms), String(options.intervalMs), burst);
    },
  };
}
