// The configuration check `npm start` runs before it installs, builds or migrates anything, so
// a typo costs a second, not a build. Plain Node with no dependencies (it runs before `npm ci`).
// The source of truth is the zod schema in packages/core/src/config.ts, which every process
// parses at its start; this check refuses only what that schema refuses (a test compares the
// two on a table of inputs), and leaves the rest to it.
import { canConnect } from './lib.mjs';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/pulsebridge';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const blank = (value) => value === undefined || value.trim() === '';

const URLS = {
  DATABASE_URL: DEFAULT_DATABASE_URL,
  REDIS_URL: DEFAULT_REDIS_URL,
  PUBLIC_URL: undefined,
  SLACK_API_URL: 'https://slack.com/api/',
  HEROKU_API_URL: 'https://api.heroku.com',
  HEROKU_ID_URL: 'https://id.heroku.com',
};

/** [name, min, max]: whole numbers as the schema coerces them (`Number(value)`). */
const NUMBERS = [
  ['PORT', 0, 65535],
  ['WORKER_PORT', 0, 65535],
  ['WORKER_CONCURRENCY', 1],
  ['RECONCILE_GRACE_MS', 1],
  ['RECONCILE_INTERVAL_MS', 1],
  ['DRAIN_EVALUATE_INTERVAL_MS', 1],
  ['EVENT_JOB_ATTEMPTS', 1],
  ['SHUTDOWN_TIMEOUT_MS', 1],
  ['INGEST_MAX_BATCH', 1],
  ['EVENT_JOB_MAX_EVENTS', 1, 100],
  ['EVENT_JOB_LINGER_MS', 0, 1000],
  ['SLACK_CHANNEL_INTERVAL_MS', 0],
  ['SLACK_CHANNEL_BURST', 1],
  ['SLACK_CONCURRENCY', 1],
  ['SLACK_INLINE_SYNCS', 0],
  ['DATABASE_POOL_SIZE', 1],
  ['WORKER_LOCK_MS', 1],
];

const CHOICES = {
  NODE_ENV: ['development', 'production', 'test'],
  LOG_LEVEL: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  DATABASE_SSL: ['verify', 'no-verify', 'off'],
  REDIS_TLS_VERIFY: ['true', 'false'],
};

/** One line per bad variable, each naming it (`config: NAME ...`, as the processes say it); empty when fine. */
export function checkEnv(env) {
  const lines = [];
  const bad = (name, message) => lines.push(`config: ${name} ${message}`);

  const adminToken = env.ADMIN_TOKEN;
  if (adminToken === undefined) bad('ADMIN_TOKEN', 'is required (the bootstrap admin API token, at least 16 characters)');
  else if (adminToken.trim().length < 16) bad('ADMIN_TOKEN', 'must be at least 16 characters');

  const secretKey = env.SECRET_KEY;
  if (secretKey === undefined) bad('SECRET_KEY', 'is required (32 random bytes as hex, e.g. `openssl rand -hex 32`)');
  else if (!isSecretKey(secretKey.trim())) bad('SECRET_KEY', 'must be 32 bytes as 64 hex characters or base64 (e.g. `openssl rand -hex 32`)');

  for (const name of Object.keys(URLS)) {
    const value = env[name];
    if (!blank(value) && !URL.canParse(value.trim())) bad(name, 'must be a URL');
  }
  for (const [name, min, max = Number.MAX_SAFE_INTEGER] of NUMBERS) {
    const value = env[name];
    if (value === undefined) continue;
    const number = Number(value);
    if (!Number.isInteger(number) || number < min || number > max) bad(name, `must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}`);
  }
  for (const [name, choices] of Object.entries(CHOICES)) {
    const value = env[name];
    if (value !== undefined && !choices.includes(value)) bad(name, `must be one of ${choices.join(', ')}`);
  }
  if (env.QUEUE_PREFIX !== undefined && !/^[A-Za-z0-9_.-]+$/.test(env.QUEUE_PREFIX.trim())) bad('QUEUE_PREFIX', 'may hold only letters, digits, _ . -');
  if (env.CONFIG_DIR !== undefined && env.CONFIG_DIR.trim() === '') bad('CONFIG_DIR', 'must not be empty');
  return lines;
}

function isSecretKey(value) {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return true;
  return /^[A-Za-z0-9+/_-]{43}=?$/.test(value) && Buffer.from(value, 'base64').length === 32;
}

/** Where a PostgreSQL or Redis URL connects: a TCP host and port, or a Unix socket. */
export function connectTarget(url, defaultPort) {
  const parsed = new URL(url);
  const port = Number(parsed.port || defaultPort);
  const socketDir = parsed.searchParams.get('host') ?? (parsed.hostname.startsWith('%2F') ? decodeURIComponent(parsed.hostname) : null);
  if (socketDir?.startsWith('/')) return { path: `${socketDir}/.s.PGSQL.${port}`, label: `${socketDir} (port ${port})`, local: true, port };
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || 'localhost';
  return { host, port, label: `${host}:${port}`, local: ['localhost', '127.0.0.1', '::1'].includes(host) };
}

/** Resolves true when something accepts connections at the target within `timeoutMs`. */
const canReach = (target, timeoutMs) => canConnect(target.path !== undefined ? { path: target.path } : { host: target.host, port: target.port }, timeoutMs);

/**
 * One line each for PostgreSQL and Redis when nothing answers where the config points, naming
 * the host and port and the command from README's "Start it" that starts one there.
 */
export async function checkServices(env) {
  const databaseUrl = blank(env.DATABASE_URL) ? DEFAULT_DATABASE_URL : env.DATABASE_URL.trim();
  const redisUrl = blank(env.REDIS_URL) ? DEFAULT_REDIS_URL : env.REDIS_URL.trim();
  const postgres = connectTarget(databaseUrl, 5432);
  const redis = connectTarget(redisUrl, 6379);
  const [postgresUp, redisUp] = await Promise.all([canReach(postgres), canReach(redis)]);
  const lines = [];
  if (!postgresUp) {
    const start = postgres.path !== undefined
      ? 'start it (`sudo service postgresql start`)'
      : postgres.local
      ? `start it (README, "Start it"): \`docker run -d --name pulsebridge-postgres -p ${postgres.port}:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16\` or \`sudo service postgresql start\``
      : 'check that it is running and reachable from here';
    lines.push(`PostgreSQL is not reachable at ${postgres.label} (DATABASE_URL): ${start}; or set DATABASE_URL in the environment or .env`);
  }
  if (!redisUp) {
    const start = redis.local
      ? `start it (README, "Start it"): \`docker run -d --name pulsebridge-redis -p ${redis.port}:6379 redis:7 redis-server --appendonly yes --maxmemory-policy noeviction\` or \`redis-server --daemonize yes --port ${redis.port}\``
      : 'check that it is running and reachable from here';
    lines.push(`Redis is not reachable at ${redis.label} (REDIS_URL): ${start}; or set REDIS_URL in the environment or .env`);
  }
  return lines;
}
