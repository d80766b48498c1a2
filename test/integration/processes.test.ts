import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, CONFIG_DIR, SECRET_KEY, createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { freePort } from '../support/ports.js';
import { REDIS_URL } from '../support/services.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const API = path.join(repo, 'apps/api/dist/main.js');
const WORKER = path.join(repo, 'apps/worker/dist/main.js');

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; ms: number }>;
}

/** Runs a compiled entry point as `npm run start:*` would, capturing what it prints. */
// Children are stopped even when a test fails before it stops them.
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function run(script: string, env: Record<string, string | undefined>): Running {
  const started = Date.now();
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; ms: number }>((resolve) => child.on('exit', (code) => resolve({ code, ms: Date.now() - started })));
  return { child, output: () => output, exited };
}

beforeAll(() => {
  if (!existsSync(API) || !existsSync(WORKER)) throw new Error('build first (npm run build): these tests run the compiled processes');
});

describe('start-up checks', () => {
  it('a missing or malformed required variable stops start-up with one line naming it', async () => {
    for (const script of [API, WORKER]) {
      const proc = run(script, { SECRET_KEY: 'nothex' });
      const { code } = await proc.exited;
      expect(code).toBe(1);
      const lines = proc.output().trim().split('\n');
      expect(lines).toEqual([expect.stringMatching(/^config: ADMIN_TOKEN is required/), expect.stringMatching(/^config: SECRET_KEY must be 32 bytes/)]);
    }
  });

  it('unreachable PostgreSQL or Redis is said in one line with how to start it', async () => {
    const proc = run(API, { ADMIN_TOKEN, SECRET_KEY, DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:1' });
    const { code } = await proc.exited;
    expect(code).toBe(1);
    const lines = proc.output().trim().split('\n');
    expect(lines).toHaveLength(2);
    // README's commands, for the port the config names.
    expect(lines[0]).toMatch(/^PostgreSQL is not reachable at 127\.0\.0\.1:1 .*`docker run -d --name pulsebridge-postgres -p 1:5432 /);
    expect(lines[1]).toMatch(/^Redis is not reachable at 127\.0\.0\.1:1 .*`redis-server --daemonize yes --port 1`/);
  });
});

describe('rules at start-up', () => {
  it('a worker with an invalid rules file stops, naming the file, the rule and the problem', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pulsebridge-rules-'));
    writeFileSync(
      path.join(dir, 'rules.yaml'),
      'rules:\n  - name: crash\n    entity: dyno\n    incident: {action: trigger, severity: high, dedup_key: k, title: "{{ data.name | shout }}"}\n',
    );
    const stack = await startTestStack();
    try {
      const worker = run(WORKER, { ADMIN_TOKEN, SECRET_KEY, DATABASE_URL: stack.config.databaseUrl, REDIS_URL, CONFIG_DIR: dir, WORKER_PORT: '0' });
      const { code } = await worker.exited;
      expect(code).toBe(1);
      expect(worker.output().trim()).toBe(`rules: ${path.join(dir, 'rules.yaml')}: rule "crash": incident.title: undefined filter: shout, line:1, col:1`);
    } finally {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('workflows at start-up', () => {
  it('a worker with a workflow naming an unknown action stops, naming the file, the workflow and the field', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pulsebridge-workflows-'));
    copyFileSync(path.join(CONFIG_DIR, 'rules.yaml'), path.join(dir, 'rules.yaml'));
    writeFileSync(path.join(dir, 'workflows.yaml'), 'workflows:\n  - name: fix-it\n    on: incident.triggered\n    actions:\n      - heroku.scale: {web: 0}\n');
    const stack = await startTestStack();
    try {
      const worker = run(WORKER, { ADMIN_TOKEN, SECRET_KEY, DATABASE_URL: stack.config.databaseUrl, REDIS_URL, CONFIG_DIR: dir, WORKER_PORT: '0' });
      const { code } = await worker.exited;
      expect(code).toBe(1);
      expect(worker.output().trim()).toBe(
        `workflows: ${path.join(dir, 'workflows.yaml')}: workflow "fix-it": actions[0]: unknown action "heroku.scale" (one of heroku.run, heroku.restart, heroku.rollback, slack.post, incident.set_severity, incident.acknowledge)`,
      );
    } finally {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Slack templates at start-up', () => {
  it('a worker with a broken slack.yaml stops, naming the file and the template', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pulsebridge-slack-'));
    copyFileSync(path.join(CONFIG_DIR, 'rules.yaml'), path.join(dir, 'rules.yaml'));
    writeFileSync(path.join(dir, 'slack.yaml'), readFileSync(path.join(CONFIG_DIR, 'slack.yaml'), 'utf8').replace('{{ incident.title }}"', '{{ incident.title | sparkle }}"'));
    const stack = await startTestStack();
    try {
      const worker = run(WORKER, { ADMIN_TOKEN, SECRET_KEY, DATABASE_URL: stack.config.databaseUrl, REDIS_URL, CONFIG_DIR: dir, WORKER_PORT: '0' });
      const { code } = await worker.exited;
      expect(code).toBe(1);
      expect(worker.output().trim()).toMatch(new RegExp(`^slack templates: ${path.join(dir, 'slack.yaml').replace(/[.]/g, '\\.')}: incident\\.text: undefined filter: sparkle`));
    } finally {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('graceful shutdown', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.stop());

  const env = () => ({
    ADMIN_TOKEN,
    SECRET_KEY,
    DATABASE_URL: stack.config.databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: stack.config.queuePrefix,
    PORT: '0',
    WORKER_PORT: '0',
    SHUTDOWN_TIMEOUT_MS: '10000',
  });

  it('a worker process processes events and reports them on its /metrics, then on SIGTERM stops within the bound and exits 0', async () => {
    const integration = await createIntegration(stack, ['sample-app']);
    const metricsPort = await freePort();
    const worker = run(WORKER, { ...env(), WORKER_PORT: String(metricsPort) });
    await waitFor(() => /pulsebridge worker running/.test(worker.output()), { what: 'worker started' });
    const ids = Array.from({ length: 30 }, () => randomUUID());
    await Promise.all(
      ids.map((id) => postWebhook(stack, integration.id, JSON.stringify({ id, resource: 'build', action: 'update', data: { app: { name: 'sample-app' } } }), { secret: integration.secret })),
    );
    await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'"))[0].n === ids.length, { what: 'events processed by the worker process' });
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    // Deliveries that arrive together share jobs: every event is counted once, in some job.
    expect(metrics).toContain(`pulsebridge_event_job_events_sum{process="worker"} ${ids.length}`);
    const jobs = Number(/^pulsebridge_event_job_events_count\{process="worker"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(jobs).toBeGreaterThan(0);
    expect(jobs).toBeLessThanOrEqual(ids.length);
    expect(metrics).toContain(`pulsebridge_job_duration_seconds_count{process="worker",queue="events",name="event.process",outcome="completed"} ${jobs}`);
    expect(metrics).toContain('pulsebridge_job_failures_total');
    // SLACK_CONCURRENCY (8), or half of it for a second after an event that waited in its queue.
    expect(metrics).toMatch(/^pulsebridge_slack_queue_concurrency\{process="worker"\} (8|4)$/m);

    worker.child.kill('SIGTERM');
    const { code, ms } = await worker.exited;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(60_000);
    expect(worker.output()).toMatch(/"msg":"shutdown complete"/);
  });

  it('SIGTERM lets a running job finish before the worker exits', async () => {
    const integration = await createIntegration(stack, ['sample-app'], 'slow job');
    const id = randomUUID();
    await postWebhook(stack, integration.id, JSON.stringify({ id, resource: 'build', action: 'update', data: { app: { name: 'sample-app' } } }), { secret: integration.secret });
    // Hold the event's row: the job's status update waits on it, so the job stays running.
    const lock = await stack.runtime.db.pool.connect();
    await lock.query('BEGIN');
    await lock.query('SELECT id FROM events WHERE event_id = $1 FOR UPDATE', [id]);
    const worker = run(WORKER, env());
    try {
      await waitFor(async () => (await stack.runtime.queues.events.getActiveCount()) === 1, { what: 'job running' });
      worker.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(worker.child.exitCode).toBeNull();
      expect((await stack.sql('SELECT status::text FROM events WHERE event_id = $1', [id]))[0].status).toBe('received');
    } finally {
      await lock.query('COMMIT');
      lock.release();
    }
    const { code } = await worker.exited;
    expect(code).toBe(0);
    expect((await stack.sql('SELECT status::text FROM events WHERE event_id = $1', [id]))[0].status).toBe('processed');
  });

  it('a port already in use is one line naming the variable that moves it', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      for (const [script, variables, name] of [
        [API, { PORT: String(port) }, 'api PORT'],
        [WORKER, { WORKER_PORT: String(port) }, 'worker WORKER_PORT'],
      ] as const) {
        const proc = run(script, { ...env(), ...variables });
        expect((await proc.exited).code).toBe(1);
        const [processName, variable] = name.split(' ');
        const lines = proc.output().trim().split('\n').filter((line) => !line.startsWith('{'));
        expect(lines).toEqual([`pulsebridge ${processName} failed to start: port ${port} is already in use (an earlier pulsebridge still running?); stop it or set ${variable}`]);
      }
    } finally {
      taken.close();
    }
  });

  it('an API process on SIGTERM stops listening and exits 0', async () => {
    const api = run(API, env());
    await waitFor(() => /pulsebridge API listening/.test(api.output()), { what: 'api started' });
    api.child.kill('SIGTERM');
    const { code } = await api.exited;
    expect(code).toBe(0);
    expect(api.output()).toMatch(/"msg":"shutdown complete"/);
  });
});
