import net from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';

/** Where a URL points: its host and port (the service's default port when it names none), and whether that is this machine. */
function target(url: string, defaultPort: number): { label: string; host: string; port: number; local: boolean } {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    const port = Number(parsed.port || defaultPort);
    return { label: `${parsed.hostname}:${port}`, host, port, local: ['localhost', '127.0.0.1', '::1'].includes(host) };
  } catch {
    return { label: url, host: '', port: defaultPort, local: false };
  }
}

/** Whether anything accepts a TCP connection there (ioredis says "Connection is closed." either way). */
function tcpAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// The commands README's "Start it" gives (scripts/check-config.mjs, which `npm start` runs first, says the same).
function howToStartPostgres(at: { port: number; local: boolean }): string {
  const start = at.local
    ? `start it (README, "Start it"): \`docker run -d --name pulsebridge-postgres -p ${at.port}:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16\` or \`sudo service postgresql start\``
    : 'check that it is running and reachable from here';
  return `${start}; or set DATABASE_URL`;
}

function howToStartRedis(at: { port: number; local: boolean }): string {
  const start = at.local
    ? `start it (README, "Start it"): \`docker run -d --name pulsebridge-redis -p ${at.port}:6379 redis:7 redis-server --appendonly yes --maxmemory-policy noeviction\` or \`redis-server --daemonize yes --port ${at.port}\``
    : 'check that it is running and reachable from here';
  return `${start}; or set REDIS_URL`;
}

/** Network errors that mean nothing answers there (as opposed to a server that refused us). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ENOENT']);

function unreachable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|timeout|timed out/i.test(message);
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
    const at = target(databaseUrl, 5432);
    if (code === '3D000') return `PostgreSQL at ${at.label} has no such database: ${(error as Error).message}`;
    if (!unreachable(error)) return `PostgreSQL at ${at.label} refused the connection (${(error as Error).message || code}): check the user, password, database and SSL settings in DATABASE_URL (and DATABASE_SSL)`;
    return `PostgreSQL is not reachable at ${at.label} (${(error as Error).message || code}): ${howToStartPostgres(at)}`;
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
    const at = target(redisUrl, 6379);
    if (!unreachable(error) && at.host !== '' && (await tcpAnswers(at.host, at.port))) return `Redis at ${at.label} did not answer as Redis (${(error as Error).message}): check REDIS_URL (host, port, password, rediss:// and REDIS_TLS_VERIFY)`;
    return `Redis is not reachable at ${at.label} (${(error as Error).message}): ${howToStartRedis(at)}`;
  } finally {
    redis.disconnect();
  }
}
