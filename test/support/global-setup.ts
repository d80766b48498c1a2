import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { defaultMigrationsDir, migrateDatabase } from '../../packages/core/src/db/migrate.js';
import { deleteKeysMatching } from '../../packages/core/src/queues/connections.js';
import { ADMIN_URL, REDIS_URL, databaseUrl } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    runId: string;
    templateDatabase: string;
  }
}

/**
 * Once per `npm test`: a run id that names every database and Redis key prefix this run
 * creates (so runs never collide), and a template database migrated once, which each test
 * file copies. Everything is removed at the end.
 */
export default async function setup(project: TestProject) {
  const runId = `pbtest_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const templateDatabase = `${runId}_template`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect().catch((error: Error) => {
    throw new Error(`tests need PostgreSQL at ${ADMIN_URL}: ${error.message}`);
  });
  await admin.query(`CREATE DATABASE "${templateDatabase}"`);
  await admin.end();
  await migrateDatabase(databaseUrl(templateDatabase), defaultMigrationsDir());
  project.provide('runId', runId);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    const cleanup = new pg.Client({ connectionString: ADMIN_URL });
    await cleanup.connect();
    const { rows } = await cleanup.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${runId}%`]);
    for (const row of rows) await cleanup.query(`DROP DATABASE IF EXISTS "${row.datname}" WITH (FORCE)`);
    await cleanup.end();
    const redis = new Redis(REDIS_URL);
    await deleteKeysMatching(redis, `${runId}*`);
    redis.disconnect();
  };
}
