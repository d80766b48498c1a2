import pg from 'pg';

/** The machine's PostgreSQL and Redis; tests create their own databases and key prefixes on them. */
export const PG_BASE = process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432';
export const ADMIN_URL = `${PG_BASE}/postgres`;
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const databaseUrl = (name: string) => `${PG_BASE}/${name}`;

/** Creates an empty database (the run's teardown drops the databases named after the run); returns its URL. */
export async function createEmptyDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return databaseUrl(name);
}
