import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import {
  createLogger,
  createRuntime,
  createWorkerRedis,
  deleteKeysMatching,
  loadConfig,
  loadRuleSet,
  loadSlackTemplates,
  signHerokuBody,
  type Config,
  type Runtime,
} from '@pulsebridge/core';
import { startApiServer, type ApiServer } from '@pulsebridge/api';
import { startWorkers, type Workers } from '@pulsebridge/worker';
import { ADMIN_URL, REDIS_URL, databaseUrl } from './services.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const SECRET_KEY = 'a'.repeat(64);
/** The repository's default rules and templates. */
export const CONFIG_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../config');

export const ADDON = { id: 'pulsebridge-test-addon', password: 'addon-password-123' };

/** A fresh database copied from the run's migrated template. */
export async function createTestDatabase(): Promise<string> {
  const name = `${inject('runId')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    // Copying a template fails while another copy of it is in progress: retry briefly.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${inject('templateDatabase')}"`);
        break;
      } catch (error) {
        if (attempt >= 50 || !/being accessed by other users/.test((error as Error).message)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 100));
      }
    }
  } finally {
    await admin.end();
  }
  return databaseUrl(name);
}

/** Config as the apps would parse it from the environment, for this test's database and prefix. */
export function testConfig(database: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: database,
    REDIS_URL,
    ADMIN_TOKEN,
    SECRET_KEY,
    ADDON_ID: ADDON.id,
    ADDON_PASSWORD: ADDON.password,
    QUEUE_PREFIX: `${inject('runId')}-${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PUBLIC_URL: 'http://pulsebridge.test',
    CONFIG_DIR: CONFIG_DIR,
    // Nothing listens there: tests that talk to Heroku start a fake and override it.
    HEROKU_API_URL: 'http://127.0.0.1:9',
    HEROKU_ID_URL: 'http://127.0.0.1:9/id',
    RECONCILE_GRACE_MS: '60000',
    RECONCILE_INTERVAL_MS: '60000',
    EVENT_JOB_ATTEMPTS: '3',
    ...overrides,
  });
}

export interface TestStack {
  config: Config;
  runtime: Runtime;
  api: ApiServer;
  url: string;
  /** Starts a worker (several may run at once); each is closed with the stack. */
  startWorker(options?: { concurrency?: number; reconcile?: boolean; evaluateDrains?: boolean }): Workers;
  /** Admin-token REST call returning status and parsed JSON. */
  call(method: string, path: string, options?: { token?: string | null; body?: unknown }): Promise<{ status: number; body: any }>;
  /** Deletes every Redis key of this stack's queues, as a Redis restart without persistence would. */
  wipeRedis(): Promise<void>;
  sql<T extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

/** API (and on demand workers) in this process, on real PostgreSQL and Redis. */
export async function startTestStack(options: { config?: Record<string, string>; database?: string } = {}): Promise<TestStack> {
  const database = options.database ?? (await createTestDatabase());
  const config = testConfig(database, options.config);
  const logger = createLogger({ level: config.logLevel, service: 'test' });
  const runtime = createRuntime(config, { process: 'api', logger });
  const ruleSet = await loadRuleSet(config.configDir);
  const api = await startApiServer(runtime, { port: 0, host: '127.0.0.1', rules: ruleSet });
  const slackTemplates = await loadSlackTemplates(config.configDir);
  const workers: { workers: Workers; runtime: Runtime; connection: Redis }[] = [];

  return {
    config,
    runtime,
    api,
    url: api.url,
    startWorker(workerOptions = {}) {
      const workerRuntime = createRuntime(config, { process: 'worker', logger });
      const connection = createWorkerRedis(config.redisUrl);
      connection.on('error', () => undefined);
      const started = startWorkers(workerRuntime, { connection, rules: ruleSet, slackTemplates, ...workerOptions });
      workers.push({ workers: started, runtime: workerRuntime, connection });
      return started;
    },
    async call(method, path, callOptions = {}) {
      const token = callOptions.token === undefined ? ADMIN_TOKEN : callOptions.token;
      const response = await fetch(`${api.url}${path}`, {
        method,
        headers: {
          ...(token !== null && { authorization: `Bearer ${token}` }),
          ...(callOptions.body !== undefined && { 'content-type': 'application/json' }),
        },
        body: callOptions.body === undefined ? undefined : JSON.stringify(callOptions.body),
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
    },
    async wipeRedis() {
      const redis = new Redis(REDIS_URL);
      await deleteKeysMatching(redis, `${config.queuePrefix}:*`);
      redis.disconnect();
    },
    async sql(text, values) {
      return (await runtime.db.pool.query(text, values)).rows;
    },
    async stop() {
      for (const worker of workers) {
        await worker.workers.close();
        worker.connection.disconnect();
        await worker.runtime.close();
      }
      await api.close();
      await runtime.close();
    },
  };
}

/** Creates an integration through the REST API and returns its id and secret. */
export async function createIntegration(stack: TestStack, monitoredApps: string[], name = 'test account') {
  const { status, body } = await stack.call('POST', '/api/v1/integrations/heroku', { body: { name, monitoredApps } });
  if (status !== 201) throw new Error(`creating integration failed: ${status} ${JSON.stringify(body)}`);
  return body as { id: string; secret: string; webhookUrl: string };
}

/** A web UI session: its cookie, and the CSRF token its forms carry. */
export interface UiSession {
  cookie: string;
  csrf: string;
}

/** Signs in through the login form and reads the CSRF token from a page, as a browser would. */
export async function signInUi(stack: TestStack, token: string = ADMIN_TOKEN): Promise<UiSession> {
  const login = await fetch(`${stack.url}/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token, next: '/incidents' }) });
  if (login.status !== 303) throw new Error(`signing in failed: ${login.status}`);
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith('pb_session='))?.split(';')[0];
  if (!cookie) throw new Error('signing in set no session cookie');
  const page = await (await fetch(`${stack.url}/incidents`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error('no CSRF token on the incidents page');
  return { cookie, csrf };
}

/** POSTs a body to the webhook endpoint, signed with `secret` unless a signature is given. */
export async function postWebhook(
  stack: TestStack,
  integrationId: string,
  body: string | Buffer,
  options: { secret?: string; signature?: string | null } = {},
) {
  const signature = options.signature === undefined ? signHerokuBody(options.secret ?? '', body) : options.signature;
  const response = await fetch(`${stack.url}/webhooks/heroku/${integrationId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature !== null && { 'heroku-webhook-hmac-sha256': signature }) },
    body,
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text), headers: response.headers };
}

/** Polls `check` until it returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The settings that point pulsebridge at a fake Slack, posting to `#general` by default, plus `extra`. */
export function slackSettings(slack: { token: string; apiUrl: string }, extra: Record<string, string> = {}): Record<string, string> {
  return { SLACK_BOT_TOKEN: slack.token, SLACK_API_URL: slack.apiUrl, SLACK_DEFAULT_CHANNEL: '#general', ...extra };
}

/** The settings that point pulsebridge at a fake Heroku (Platform API, OAuth and Rendezvous's CA), plus `extra`. */
export function herokuSettings(heroku: { apiUrl: string; idUrl: string; oauth: { clientId: string; clientSecret: string }; rendezvous: { caFile: string } }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HEROKU_API_URL: heroku.apiUrl,
    HEROKU_ID_URL: heroku.idUrl,
    HEROKU_OAUTH_ID: heroku.oauth.clientId,
    HEROKU_OAUTH_SECRET: heroku.oauth.clientSecret,
    RENDEZVOUS_CA_FILE: heroku.rendezvous.caFile,
    ...extra,
  };
}

/** Environment for a compiled worker process on this stack's database and queues. */
export function workerProcessEnv(stack: TestStack, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    ADMIN_TOKEN,
    SECRET_KEY,
    DATABASE_URL: stack.config.databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: stack.config.queuePrefix,
    CONFIG_DIR,
    WORKER_PORT: '0',
    LOG_LEVEL: 'silent',
    ...extra,
  };
}
