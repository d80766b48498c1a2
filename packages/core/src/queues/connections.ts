import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis for producers (the API): commands fail at once while Redis is down instead of
 * queueing in memory, so a request never hangs on Redis; the reconciler enqueues later.
 */
export function createProducerRedis(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  } satisfies RedisOptions);
}

/** Redis for BullMQ workers: blocking commands need `maxRetriesPerRequest: null`. */
export function createWorkerRedis(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  } satisfies RedisOptions);
}
