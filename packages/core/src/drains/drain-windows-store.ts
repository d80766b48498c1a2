import type { Redis } from 'ioredis';
import type { MinuteBuckets } from './windows.js';

/**
 * Drain windows in Redis, shared by every API process (so two give the same counts as one) and
 * read by the workers that evaluate them:
 *
 * - `<prefix>:drain:w:<integration>:<app>:<minute>`: a hash per app and minute, `<process type>
 *   <signal>` to its count, and `lines` (every frame read), at most `MAX_BUCKET_FIELDS` fields.
 *   Kept `BUCKET_TTL_S`.
 * - `<prefix>:drain:f:<integration>:<app>:<minute>`: the `Logplex-Frame-Id`s of the batches
 *   counted in that minute (Logplex retries a batch with the same frame id, within moments): a
 *   batch whose id is in this minute's set or the two before is not counted again. At most
 *   `MAX_FRAME_IDS` per app and minute (later ones are counted, not remembered). Kept `FRAME_TTL_S`.
 * - `<prefix>:drain:last:<integration>`: per app, when its last body arrived (epoch ms).
 * - `<prefix>:drain:dirty`: apps with an error signal, scored by when it arrived: what the
 *   evaluator looks at.
 *
 * A body costs one round trip: a script checks the frame id and adds every count atomically.
 */
export const BUCKET_TTL_S = 3 * 3600;
/**
 * Fields an app's minute holds before new ones are folded: a real app has a few process types
 * with a few signals each. Beyond it a new process type counts as `other` (one more field per
 * signal at most), so no drain can grow a minute (and what reads it) without bound.
 */
export const MAX_BUCKET_FIELDS = 300;
export const FRAME_TTL_S = 4 * 60;
export const MAX_FRAME_IDS = 10_000;
/** Hash field of a bucket that counts every frame read. */
export const LINES_FIELD = 'lines';

const RECORD_SCRIPT = `
if ARGV[1] ~= '' then
  for _, key in ipairs({KEYS[1], KEYS[5], KEYS[6]}) do
    if redis.call('SISMEMBER', key, ARGV[1]) == 1 then return 0 end
  end
  if redis.call('SCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('SADD', KEYS[1], ARGV[1])
    redis.call('EXPIRE', KEYS[1], ARGV[3])
  end
end
local most = tonumber(ARGV[8])
for i = 9, #ARGV, 2 do
  local field = ARGV[i]
  if redis.call('HLEN', KEYS[2]) >= most and redis.call('HEXISTS', KEYS[2], field) == 0 then
    field = 'other ' .. string.match(field, '[^ ]+$')
  end
  redis.call('HINCRBY', KEYS[2], field, ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[6], ARGV[5])
if ARGV[7] ~= '' then redis.call('ZADD', KEYS[4], ARGV[5], ARGV[7]) end
return 1`;

type WithRecord = Redis & {
  pulsebridgeDrainRecord(frameKey: string, bucketKey: string, lastKey: string, dirtyKey: string, frameKeyBefore: string, frameKeyTwoBefore: string, ...args: (string | number)[]): Promise<number>;
};

export interface DrainBodyCounts {
  integrationId: string;
  appName: string;
  /** `Logplex-Frame-Id`, or null when the request had none (then it is never deduplicated). */
  frameId: string | null;
  /** Frames read: the `lines` count. */
  lines: number;
  fields: ReadonlyMap<string, number>;
  alarming: boolean;
  atMs: number;
}

/** The member of the dirty set naming an app: integration id and app name, apart by a newline (no app name has one). */
export const dirtyMember = (integrationId: string, appName: string): string => `${integrationId}\n${appName}`;
/** The integration id and app name a dirty-set member names. */
export function fromDirtyMember(member: string): { integrationId: string; appName: string } | null {
  const at = member.indexOf('\n');
  return at <= 0 || at === member.length - 1 ? null : { integrationId: member.slice(0, at), appName: member.slice(at + 1) };
}

export class DrainWindowStore {
  private readonly redis: WithRecord;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    if (typeof (redis as unknown as Partial<WithRecord>).pulsebridgeDrainRecord !== 'function') {
      redis.defineCommand('pulsebridgeDrainRecord', { numberOfKeys: 6, lua: RECORD_SCRIPT });
    }
    this.redis = redis as unknown as WithRecord;
  }

  bucketKey(integrationId: string, appName: string, minute: number): string {
    return `${this.prefix}:drain:w:${integrationId}:${appName}:${minute}`;
  }

  private get dirtyKey(): string {
    return `${this.prefix}:drain:dirty`;
  }

  /** Adds one body's counts to its minute; false when its frame id was counted already. */
  async record(counts: DrainBodyCounts): Promise<boolean> {
    const minute = Math.floor(counts.atMs / 60_000);
    const args: (string | number)[] = [counts.frameId ?? '', MAX_FRAME_IDS, FRAME_TTL_S, BUCKET_TTL_S, counts.atMs, counts.appName, counts.alarming ? dirtyMember(counts.integrationId, counts.appName) : ''];
    args.push(MAX_BUCKET_FIELDS, LINES_FIELD, counts.lines);
    for (const [field, count] of counts.fields) args.push(field, count);
    const frames = (m: number) => `${this.prefix}:drain:f:${counts.integrationId}:${counts.appName}:${m}`;
    const result = await this.redis.pulsebridgeDrainRecord(
      frames(minute),
      this.bucketKey(counts.integrationId, counts.appName, minute),
      `${this.prefix}:drain:last:${counts.integrationId}`,
      this.dirtyKey,
      frames(minute - 1),
      frames(minute - 2),
      ...args,
    );
    return result === 1;
  }

  /** Apps with an error signal since `sinceMs` (inclusive), with when their latest arrived. */
  async dirtySince(sinceMs: number): Promise<{ integrationId: string; appName: string; atMs: number }[]> {
    const flat = await this.redis.zrangebyscore(this.dirtyKey, sinceMs, '+inf', 'WITHSCORES');
    const apps: { integrationId: string; appName: string; atMs: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const app = fromDirtyMember(flat[i]!);
      if (app !== null) apps.push({ ...app, atMs: Number(flat[i + 1]) });
    }
    return apps;
  }

  /** Forgets apps whose latest error signal is older than `beforeMs`. */
  async forgetDirtyBefore(beforeMs: number): Promise<void> {
    await this.redis.zremrangebyscore(this.dirtyKey, '-inf', `(${beforeMs}`);
  }

  /** The minute buckets `fromMinute..toMinute` of several apps, in one round trip. */
  async readBuckets(apps: { integrationId: string; appName: string }[], fromMinute: number, toMinute: number): Promise<Map<string, Map<number, Record<string, number>>>> {
    const pipeline = this.redis.pipeline();
    for (const app of apps) for (let minute = fromMinute; minute <= toMinute; minute += 1) pipeline.hgetall(this.bucketKey(app.integrationId, app.appName, minute));
    const results = (await pipeline.exec()) ?? [];
    const out = new Map<string, Map<number, Record<string, number>>>();
    let index = 0;
    for (const app of apps) {
      const buckets = new Map<number, Record<string, number>>();
      for (let minute = fromMinute; minute <= toMinute; minute += 1) {
        const [error, value] = results[index++] ?? [null, null];
        if (error) throw error;
        const hash = value as Record<string, string> | null;
        if (hash && Object.keys(hash).length > 0) {
          const counts: Record<string, number> = {};
          for (const field in hash) counts[field] = Number(hash[field]);
          buckets.set(minute, counts);
        }
      }
      out.set(dirtyMember(app.integrationId, app.appName), buckets);
    }
    return out;
  }

  /** The buckets of one app (see `readBuckets`). */
  async readAppBuckets(integrationId: string, appName: string, fromMinute: number, toMinute: number): Promise<MinuteBuckets> {
    return (await this.readBuckets([{ integrationId, appName }], fromMinute, toMinute)).get(dirtyMember(integrationId, appName))!;
  }

  /** Frames received per minute over the last `count` minutes (the current one last), per app. */
  async linesPerMinute(integrationId: string, appNames: string[], count: number, nowMs = Date.now()): Promise<{ minutes: number[]; perApp: number[][] }> {
    const now = Math.floor(nowMs / 60_000);
    const minutes = Array.from({ length: count }, (_, index) => now - count + 1 + index);
    const pipeline = this.redis.pipeline();
    for (const appName of appNames) for (const minute of minutes) pipeline.hget(this.bucketKey(integrationId, appName, minute), LINES_FIELD);
    const results = appNames.length === 0 ? [] : ((await pipeline.exec()) ?? []);
    return { minutes, perApp: appNames.map((_, app) => minutes.map((__, index) => Number(results[app * count + index]?.[1] ?? 0) || 0)) };
  }

  /** Per app of an integration, when its last drain body arrived. */
  async lastBodies(integrationId: string): Promise<Map<string, Date>> {
    const hash = await this.redis.hgetall(`${this.prefix}:drain:last:${integrationId}`);
    return new Map(Object.entries(hash).map(([app, ms]) => [app, new Date(Number(ms))]));
  }
}
