import { z } from 'zod';
import { MAX_EVENTS_PER_JOB } from './queues/catalog.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A 32-byte key given as 64 hex characters or as base64 (e.g. `openssl rand -hex 32`). */
const SecretKeySchema = z
  .string({ error: 'is required (32 random bytes as hex, e.g. `openssl rand -hex 32`)' })
  .transform((value, ctx) => {
    const trimmed = value.trim();
    const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
      ? Buffer.from(trimmed, 'hex')
      : /^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)
        ? Buffer.from(trimmed, 'base64')
        : undefined;
    if (key?.length !== 32) {
      ctx.addIssue({ code: 'custom', message: 'must be 32 bytes as 64 hex characters or base64 (e.g. `openssl rand -hex 32`)' });
      return z.NEVER;
    }
    return key;
  });

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const urlWithDefault = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? fallback : value.trim()))
    .pipe(z.url({ error: 'must be a URL' }));

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Every environment variable pulsebridge reads, with its default; the only reader of `process.env`. */
export const ConfigSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    DATABASE_URL: urlWithDefault('postgresql://postgres@127.0.0.1:5432/pulsebridge'),
    REDIS_URL: urlWithDefault('redis://127.0.0.1:6379'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    PUBLIC_URL: optionalString.pipe(z.url({ error: 'must be a URL' }).optional()),
    /** Heroku dyno metadata (`heroku labs:enable runtime-dyno-metadata`): PUBLIC_URL's default on Heroku. */
    HEROKU_APP_DEFAULT_DOMAIN_NAME: optionalString.pipe(z.string().regex(/^[A-Za-z0-9.-]+$/, { error: 'must be a domain name' }).optional()),
    HEROKU_APP_NAME: optionalString.pipe(z.string().regex(/^[a-z][a-z0-9-]{1,29}$/, { error: 'must be a Heroku app name' }).optional()),
    ADMIN_TOKEN: z
      .string({ error: 'is required (the bootstrap admin API token, at least 16 characters)' })
      .trim()
      .min(16, { error: 'must be at least 16 characters' }),
    SECRET_KEY: SecretKeySchema,
    SLACK_BOT_TOKEN: optionalString,
    SLACK_API_URL: urlWithDefault('https://slack.com/api/'),
    SLACK_DEFAULT_CHANNEL: optionalString,
    SLACK_SIGNING_SECRET: optionalString,
    HEROKU_API_URL: urlWithDefault('https://api.heroku.com'),
    HEROKU_ID_URL: urlWithDefault('https://id.heroku.com'),
    HEROKU_OAUTH_ID: optionalString,
    HEROKU_OAUTH_SECRET: optionalString,
    ADDON_ID: optionalString,
    ADDON_PASSWORD: optionalString,
    /** When set, `/metrics` (API and worker) answers only `Authorization: Bearer <METRICS_TOKEN>`. */
    METRICS_TOKEN: optionalString,
    QUEUE_PREFIX: z.string().trim().min(1).regex(/^[A-Za-z0-9_.-]+$/, { error: 'may hold only letters, digits, _ . -' }).default('pulsebridge'),
    CONFIG_DIR: z.string().trim().min(1).default('./config'),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    WORKER_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
    WORKER_CONCURRENCY: positiveInt(10),
    /** Stored events still `received` after this long are re-enqueued by the reconciler. */
    RECONCILE_GRACE_MS: positiveInt(60_000),
    RECONCILE_INTERVAL_MS: positiveInt(30_000),
    /** How often workers look at drain windows with new error signals (and at quiet periods). */
    DRAIN_EVALUATE_INTERVAL_MS: positiveInt(1_000),
    /** How often a worker looks for incident and pulse changes workflows run on. */
    WORKFLOW_DISPATCH_INTERVAL_MS: positiveInt(500),
    /** How often a worker resolves incidents whose rule's auto_resolve_minutes have passed. */
    AUTO_RESOLVE_INTERVAL_MS: positiveInt(15_000),
    /** How often a worker mentions the escalation levels that fell due. */
    ESCALATION_INTERVAL_MS: positiveInt(5_000),
    EVENT_JOB_ATTEMPTS: positiveInt(8),
    SHUTDOWN_TIMEOUT_MS: positiveInt(25_000),
    INGEST_MAX_BATCH: positiveInt(200),
    /** Most events stored together that share one `event.process` job (1: a job per event). */
    EVENT_JOB_MAX_EVENTS: z.coerce.number().int().min(1).max(MAX_EVENTS_PER_JOB).default(8),
    /** How long a stored event's enqueue waits for others to share its job (0: never waits). */
    EVENT_JOB_LINGER_MS: z.coerce.number().int().min(0).max(1_000).default(5),
    /** Slack allows about one message per second per channel. */
    SLACK_CHANNEL_INTERVAL_MS: z.coerce.number().int().min(0).default(1_000),
    /** Messages a quiet channel takes at once before the interval applies (Slack allows short bursts). */
    SLACK_CHANNEL_BURST: positiveInt(3),
    SLACK_CONCURRENCY: positiveInt(8),
    /** Incident syncs a worker runs right after applying an event, at once; 0 sends every notification through the Slack queue. */
    SLACK_INLINE_SYNCS: z.coerce.number().int().min(0).default(4),
    /** PostgreSQL connections per process (event jobs, Slack jobs and API requests share them). */
    DATABASE_POOL_SIZE: positiveInt(20),
    /** How long a job's lock lasts; a worker that dies loses its jobs to others after this. */
    WORKER_LOCK_MS: positiveInt(30_000),
    /** `verify` (default), `no-verify` for managed databases with self-signed certificates (Heroku Postgres), or `off`. */
    DATABASE_SSL: z.enum(['verify', 'no-verify', 'off']).optional(),
    /** `false` for Redis with a self-signed certificate (Heroku Key-Value Store, `rediss://`). */
    REDIS_TLS_VERIFY: z.enum(['true', 'false']).default('true'),
    /** PEM file of an extra CA for Rendezvous TLS (a proxy or test server); Heroku's own certificates need none. */
    RENDEZVOUS_CA_FILE: optionalString,
  })
  .transform((env) => ({
    nodeEnv: env.NODE_ENV,
    databaseUrl: env.DATABASE_URL,
    databaseSsl: env.DATABASE_SSL,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    redisUrl: env.REDIS_URL,
    redisTlsVerify: env.REDIS_TLS_VERIFY === 'true',
    port: env.PORT,
    publicUrl: (
      env.PUBLIC_URL ??
      (env.HEROKU_APP_DEFAULT_DOMAIN_NAME !== undefined
        ? `https://${env.HEROKU_APP_DEFAULT_DOMAIN_NAME}`
        : env.HEROKU_APP_NAME !== undefined
          ? `https://${env.HEROKU_APP_NAME}.herokuapp.com`
          : `http://localhost:${env.PORT}`)
    ).replace(/\/+$/, ''),
    adminToken: env.ADMIN_TOKEN,
    secretKey: env.SECRET_KEY,
    slack: {
      botToken: env.SLACK_BOT_TOKEN,
      apiUrl: env.SLACK_API_URL.endsWith('/') ? env.SLACK_API_URL : `${env.SLACK_API_URL}/`,
      defaultChannel: env.SLACK_DEFAULT_CHANNEL,
      signingSecret: env.SLACK_SIGNING_SECRET,
      channelIntervalMs: env.SLACK_CHANNEL_INTERVAL_MS,
      channelBurst: env.SLACK_CHANNEL_BURST,
      concurrency: env.SLACK_CONCURRENCY,
      inlineSyncs: env.SLACK_INLINE_SYNCS,
    },
    heroku: {
      apiUrl: env.HEROKU_API_URL.replace(/\/+$/, ''),
      idUrl: env.HEROKU_ID_URL.replace(/\/+$/, ''),
      oauthId: env.HEROKU_OAUTH_ID,
      oauthSecret: env.HEROKU_OAUTH_SECRET,
      rendezvousCaFile: env.RENDEZVOUS_CA_FILE,
    },
    addon: { id: env.ADDON_ID, password: env.ADDON_PASSWORD },
    metricsToken: env.METRICS_TOKEN,
    queuePrefix: env.QUEUE_PREFIX,
    configDir: env.CONFIG_DIR,
    logLevel: env.LOG_LEVEL,
    worker: {
      port: env.WORKER_PORT,
      concurrency: env.WORKER_CONCURRENCY,
      eventJobAttempts: env.EVENT_JOB_ATTEMPTS,
      lockMs: env.WORKER_LOCK_MS,
    },
    reconcile: { graceMs: env.RECONCILE_GRACE_MS, intervalMs: env.RECONCILE_INTERVAL_MS },
    drains: { evaluateIntervalMs: env.DRAIN_EVALUATE_INTERVAL_MS },
    workflows: { dispatchIntervalMs: env.WORKFLOW_DISPATCH_INTERVAL_MS },
    autoResolveIntervalMs: env.AUTO_RESOLVE_INTERVAL_MS,
    escalationIntervalMs: env.ESCALATION_INTERVAL_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    ingest: { maxBatch: env.INGEST_MAX_BATCH, eventsPerJob: env.EVENT_JOB_MAX_EVENTS, eventJobLingerMs: env.EVENT_JOB_LINGER_MS },
  }));

export type Config = z.output<typeof ConfigSchema>;

/** Thrown by `loadConfig`: one line per bad variable, each naming it. */
export class ConfigError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'ConfigError';
  }
}

/** What `npm run migrate` needs: the database only, no secrets. */
export const MigrateConfigSchema = z
  .object({ DATABASE_URL: urlWithDefault('postgresql://postgres@127.0.0.1:5432/pulsebridge') })
  .transform((env) => ({ databaseUrl: env.DATABASE_URL }));

/** Parses the environment into a typed config, or throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return parseEnv(ConfigSchema, env);
}

export function loadMigrateConfig(env: Record<string, string | undefined> = process.env): z.output<typeof MigrateConfigSchema> {
  return parseEnv(MigrateConfigSchema, env);
}

function parseEnv<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): z.output<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || 'environment';
    const present = typeof issue.path[0] === 'string' && env[issue.path[0]] !== undefined;
    const message = !present && issue.code === 'invalid_type' ? issue.message.replace(/^Invalid input.*$/, 'is required') : issue.message;
    return `config: ${name} ${message}`;
  });
  throw new ConfigError([...new Set(lines)]);
}
