import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis for producers (the API): commands fail at once while Redis is down instead of
 * queueing in memory, so a request never hangs on Redis; the reconciler enqueues later.
 */
/** `rediss://` with a self-signed certificate (Heroku Key-Value Store) needs verification off. */
function tlsOptions(url: string, verify: boolean): RedisOptions {
  return url.startsWith('rediss://') && !verify ? { tls: { rejectUnauthorized: false } } : {};
}

export function createProducerRedis(url: string, options: { tlsVerify?: boolean; autoPipelining?: boolean } = {}): Redis {
  return new Redis(url, {
    ...tlsOptions(url, options.tlsVerify ?? true),
    // Commands sent in one turn of the event loop go out in one write (the drain ingress).
    ...(options.autoPipelining === true && { enableAutoPipelining: true }),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  } satisfies RedisOptions);
}

/** Redis for BullMQ workers: blocking commands need `maxRetriesPerRequest: null`. */
export function createWorkerRedis(url: string, options: { tlsVerify?: boolean } = {}): Redis {
  return new Redis(url, {
    ...tlsOptions(url, options.tlsVerify ?? true),
    maxRetriesPerRequest: null,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  } satisfies RedisOptions);
}

/** Deletes every key matching `pattern` (SCAN, never KEYS), e.g. all keys under one queue prefix. */
export async function deleteKeysMatching(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
