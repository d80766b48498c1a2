import pg from 'pg';
import { Redis } from 'ioredis';

const HOW_TO_START_POSTGRES =
  'start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (or `docker-compose up -d postgres`), or set DATABASE_URL';
const HOW_TO_START_REDIS =
  'start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379` (or `docker-compose up -d redis`), or set REDIS_URL';

function describe(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || (parsed.protocol.startsWith('redis') ? '6379' : '5432')}`;
  } catch {
    return url;
  }
}

/**
 * Connects to PostgreSQL once and creates the database when the server is up but the
 * database is not there yet (a fresh machine). Returns a one-line problem, or null.
 */
export async function checkPostgres(databaseUrl: string, options: { createDatabase?: boolean } = {}): Promise<string | null> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '3D000' && options.createDatabase) {
      const url = new URL(databaseUrl);
      const name = decodeURIComponent(url.pathname.slice(1));
      url.pathname = '/postgres';
      const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 3_000 });
      try {
        await admin.connect();
        await admin.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
        return null;
      } catch (createError) {
        return `PostgreSQL database "${name}" does not exist and could not be created: ${(createError as Error).message}`;
      } finally {
        await admin.end().catch(() => undefined);
      }
    }
    if (code === '3D000') return `PostgreSQL at ${describe(databaseUrl)} has no such database: ${(error as Error).message}`;
    return `PostgreSQL is not reachable at ${describe(databaseUrl)} (${(error as Error).message || code}): ${HOW_TO_START_POSTGRES}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Pings Redis once. Returns a one-line problem, or null. */
export async function checkRedis(redisUrl: string): Promise<string | null> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 3_000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (error) {
    return `Redis is not reachable at ${describe(redisUrl)} (${(error as Error).message}): ${HOW_TO_START_REDIS}`;
  } finally {
    redis.disconnect();
  }
}
