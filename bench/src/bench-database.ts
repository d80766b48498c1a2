import pg from 'pg';
import { Redis } from 'ioredis';
import { defaultMigrationsDir, deleteKeysMatching, migrateDatabase } from '@pulsebridge/core';

/** The `--pg` and `--redis` options every bench takes: the servers it runs against (BENCH_PG_URL, BENCH_REDIS_URL). */
export const BENCH_SERVER_OPTIONS = {
  pg: { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432' },
  redis: { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
} as const;

/** A fresh, migrated database named `runId` on the server at `pgBase`; returns its URL. */
export async function createBenchDatabase(pgBase: string, runId: string): Promise<string> {
  const admin = new pg.Client({ connectionString: `${pgBase}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${runId}"`);
  await admin.end();
  const url = `${pgBase}/${runId}`;
  await migrateDatabase(url, defaultMigrationsDir());
  return url;
}

/**
 * Drops the run's database (unless asked to keep it, to look at) and deletes its Redis keys, so
 * benches leave nothing behind.
 */
export async function dropBenchData(pgBase: string, redisUrl: string, runId: string, options: { keepDatabase?: boolean } = {}): Promise<void> {
  if (!options.keepDatabase) {
    const admin = new pg.Client({ connectionString: `${pgBase}/postgres` });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${runId}" WITH (FORCE)`);
    await admin.end();
  }
  const redis = new Redis(redisUrl);
  await deleteKeysMatching(redis, `${runId}*`);
  redis.disconnect();
}
