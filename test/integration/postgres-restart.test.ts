import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookFixtures } from '../support/fixtures.js';
import { createMigratedDatabase, startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { createIntegration, postWebhook, startTestStack, waitFor, workerProcessEnv, type TestStack } from '../support/stack.js';

const WORKER = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../apps/worker/dist/main.js');
const APPS = Array.from({ length: 30 }, (_, i) => `pg-restart-app-${i}`);
/** How long PostgreSQL stays down once it has stopped. */
const OUTAGE_MS = 3_000;
/** How soon this test's "Heroku" re-sends a refused delivery (the real one waits longer). */
const REDELIVERY_MS = 400;

/** What a delivery reports, named after the one incident rule of config/rules.yaml it matches. */
type Kind = 'dyno-up' | 'build-failed' | 'dyno-crashed' | 'build-succeeded';
interface Delivery {
  eventId: string;
  app: string;
  kind: Kind;
  /** The build's id, for build events. */
  buildId?: string;
  occurredAt: Date;
  body: string;
}

const fixture = (name: string) => {
  const found = webhookFixtures().find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no fixture ${name}`);
  return found.json;
};
const BUILD_FAILED = fixture('real/api-build-update-failed.json');
const BUILD_SUCCEEDED = fixture('real/api-build-update-succeeded.json');
const DYNO = fixture('docs/dyno-starting-docs.json');

/** A real delivery's bytes with a fresh event id and this test's app, dyno state and time. */
function delivery(app: string, kind: Kind, occurredAt: Date): Delivery {
  const eventId = randomUUID();
  const time = occurredAt.toISOString();
  let json: Record<string, any>;
  let buildId: string | undefined;
  if (kind === 'build-failed' || kind === 'build-succeeded') {
    json = structuredClone(kind === 'build-failed' ? BUILD_FAILED : BUILD_SUCCEEDED);
    buildId = randomUUID();
    json.data.id = buildId;
    json.data.updated_at = time;
    json.updated_at = time;
    json.created_at = time;
    json.published_at = time;
  } else {
    json = structuredClone(DYNO);
    json.data = { ...json.data, id: randomUUID(), name: 'web.1', type: 'web', command: 'npm start', management: 'formation' };
    json.data.state = kind === 'dyno-up' ? 'up' : 'crashed';
    json.data.exit_status = kind === 'dyno-up' ? null : 1;
    json.created_at = time;
  }
  json.id = eventId;
  json.data.app.name = app;
  json.webhook_metadata.event.id = eventId;
  json.webhook_metadata.delivery.id = randomUUID();
  return { eventId, app, kind, buildId, occurredAt, body: JSON.stringify(json) };
}

const buildKey = (app: string) => `heroku:${app}:build`;
const dynoKey = (app: string) => `heroku:${app}:dyno:web.1`;

let cluster: OwnPostgres | undefined;
let stack: TestStack | undefined;
let worker: ChildProcess | undefined;
/** The worker's last log lines, shown when it dies. */
const workerLog: string[] = [];

beforeAll(async () => {
  cluster = await startOwnPostgres();
  const database = await createMigratedDatabase(cluster);
  // The product's default attempts (tests elsewhere use 3): retries with backoff outlast an outage of seconds.
  stack = await startTestStack({ database, config: { EVENT_JOB_ATTEMPTS: '8' } });
});
// Everything this file started is stopped even when the test fails half-way, with PostgreSQL down.
afterAll(async () => {
  try {
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      const exited = new Promise((resolve) => worker!.once('exit', resolve));
      worker.kill('SIGKILL');
      await exited;
    }
    await stack?.stop();
  } finally {
    await cluster?.destroy();
  }
});

describe('PostgreSQL stopped for a few seconds mid-burst', () => {
  it('ingress answers 503 meanwhile and Heroku retries, the worker process pauses and recovers, nothing is half-applied or doubled', async () => {
    const { id: integrationId, secret } = await createIntegration(stack!, APPS);

    // A compiled worker process, so a real process rides out the outage, one job at a time.
    worker = spawn(process.execPath, [WORKER], {
      env: workerProcessEnv(stack!, {
        WORKER_CONCURRENCY: '1',
        LOG_LEVEL: 'info',
        // A delivery committed just as the server went down is answered 503; Heroku's retry
        // of it is then a duplicate that queues nothing, so the reconciler queues it.
        RECONCILE_GRACE_MS: '2000',
        RECONCILE_INTERVAL_MS: '500',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [worker.stdout!, worker.stderr!]) {
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        workerLog.push(...chunk.split('\n').filter((line) => line !== ''));
        workerLog.splice(0, Math.max(0, workerLog.length - 200));
      });
    }
    const workerAlive = () => worker!.exitCode === null && worker!.signalCode === null;
    const expectWorkerAlive = () => expect(workerAlive(), `worker process exited: ${workerLog.join('\n')}`).toBe(true);
    await waitFor(
      () => {
        if (!workerAlive()) throw new Error(`worker exited: ${workerLog.join('\n')}`);
        return workerLog.some((line) => line.includes('pulsebridge worker running'));
      },
      { what: 'worker process running' },
    );

    // Per app, in event time: web.1 comes up, a build fails, web.1 crashes, another build
    // fails, web.1 crashes again. Whatever order the worker applies them in, that is one
    // build incident and one dyno incident per app, each with two alerts (the "up" happened
    // before the crashes, so it resolves nothing), and one pulse per build.
    const t0 = Date.now() - 10 * 60_000;
    const at = (step: number) => new Date(t0 + step * 1_000);
    const steps: Kind[] = ['dyno-up', 'build-failed', 'dyno-crashed', 'build-failed', 'dyno-crashed'];
    const perStep = steps.map((kind, step) => APPS.map((app) => delivery(app, kind, at(step))));
    const events = perStep.flat();
    // The first three steps come as one volley; PostgreSQL stops two thirds into it.
    const early = perStep.slice(0, 3).flat();
    // Then a steady stream while it is down: the rest, and Heroku redelivering some
    // deliveries it may already have had a 202 for (it does when an answer gets lost).
    const late = [...perStep.slice(3).flat(), ...early.filter((_, index) => index % 6 === 0)];

    const acks = new Map<string, number>();
    const refusals = new Map<string, number>();
    /** When each refused delivery was sent and answered. */
    const refused: { sentAt: number; answeredAt: number }[] = [];
    let accepted = 0;
    let intoVolley!: () => void;
    const wellIntoVolley = new Promise<void>((resolve) => (intoVolley = resolve));
    const count = (map: Map<string, number>, id: string) => map.set(id, (map.get(id) ?? 0) + 1);
    /** One POST: 202 (accepted or a duplicate), or 503 saying so, so that Heroku retries. */
    const send = async (item: Delivery): Promise<boolean> => {
      const sentAt = Date.now();
      const response = await postWebhook(stack!, integrationId, item.body, { secret });
      if (response.status === 202) {
        expect(['accepted', 'duplicate']).toContain(response.body.status);
        count(acks, item.eventId);
        accepted += 1;
        if (accepted === Math.floor((early.length * 2) / 3)) intoVolley();
        return true;
      }
      expect(response.status).toBe(503);
      expect(response.body.error.code).toBe('unavailable');
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      count(refusals, item.eventId);
      refused.push({ sentAt, answeredAt: Date.now() });
      return false;
    };
    /** A promise awaited later: its failure is reported then, not as an unhandled rejection now. */
    const settledLater = <T>(promise: Promise<T>) => {
      promise.catch(() => undefined);
      return promise;
    };
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** Heroku's retries of a refused delivery: again after a while, until it gets a 202. */
    const redelivered: Promise<void>[] = [];
    const redeliver = async (item: Delivery) => {
      const deadline = Date.now() + 25_000;
      do {
        if (Date.now() > deadline) throw new Error(`delivery ${item.eventId} never got a 202`);
        await pause(REDELIVERY_MS);
      } while (!(await send(item)));
    };
    const sendAll = async (items: Delivery[], options: { senders: number; gapMs: number }) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: options.senders }, async () => {
          while (next < items.length) {
            const item = items[next++]!;
            if (!(await send(item))) redelivered.push(settledLater(redeliver(item)));
            // Heroku sends as things happen: a steady stream, not one volley.
            if (options.gapMs > 0) await pause(options.gapMs);
          }
        }),
      );
    };

    const earlySending = settledLater(sendAll(early, { senders: 8, gapMs: 0 }));
    await wellIntoVolley;

    // PostgreSQL stops while the burst is coming in, and it keeps coming. The worker falls
    // behind ingress meanwhile, as a busy one does: it is held (SIGSTOP) until the server is
    // down, whatever the speed of this machine, so it faces the outage with work left.
    worker!.kill('SIGSTOP');
    const stopRequestedAt = Date.now();
    const lateSending = settledLater(sendAll(late, { senders: 3, gapMs: 100 }));
    await cluster!.stop();
    const stoppedAt = Date.now();
    const backlog = await stack!.runtime.queues.events.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    worker!.kill('SIGCONT');
    // The worker has work left that it cannot do now: it must pause on it, not drop it.
    expect(Object.values(backlog).reduce((a, b) => a + b, 0), 'jobs left when PostgreSQL stopped').toBeGreaterThan(0);

    const ready = await fetch(`${stack!.url}/readyz`);
    expect(ready.status).toBe(503);
    const readyBody = (await ready.json()) as any;
    expect(readyBody.checks.postgres).toMatch(/unreachable/);
    expect(readyBody.checks.redis).toBe('ok');
    // Deliveries keep arriving and are refused for a few seconds.
    await waitFor(() => Date.now() - stoppedAt >= OUTAGE_MS && refused.some(({ sentAt }) => sentAt >= stoppedAt), { what: 'deliveries refused during the outage' });
    expectWorkerAlive();

    await cluster!.start();
    const startedAt = Date.now();
    await Promise.all([earlySending, lateSending]);
    await Promise.all(redelivered);
    // Deliveries were refused only while the server was stopping, stopped or starting.
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.filter(({ sentAt, answeredAt }) => answeredAt < stopRequestedAt || sentAt > startedAt)).toEqual([]);
    // Every event got its 202 in the end.
    expect(events.filter((item) => !acks.has(item.eventId)).map((item) => item.eventId)).toEqual([]);

    await waitFor(async () => (await stack!.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'"))[0].n === events.length, {
      what: 'every accepted event processed after the restart',
      timeoutMs: 20_000,
    });
    expectWorkerAlive();
    expect((await fetch(`${stack!.url}/readyz`)).status).toBe(200);

    // Exactly once: each event stored once, processed, its deliveries counted.
    const stored = await stack!.sql<{ id: string; event_id: string; status: string; delivery_count: number; error: string | null }>(
      'SELECT id, event_id, status::text, delivery_count, error FROM events',
    );
    expect(stored.map((row) => row.event_id).sort()).toEqual(events.map((item) => item.eventId).sort());
    expect(stored.filter((row) => row.status !== 'processed' || row.error !== null)).toEqual([]);
    for (const row of stored) {
      // Between its 202s and all its attempts: one that committed just as the server went
      // down was answered 503, yet counted.
      const acked = acks.get(row.event_id) ?? 0;
      expect(row.delivery_count).toBeGreaterThanOrEqual(acked);
      expect(row.delivery_count).toBeLessThanOrEqual(acked + (refusals.get(row.event_id) ?? 0));
    }
    const rowId = new Map(stored.map((row) => [row.event_id, row.id]));

    // Nothing half-applied: each processed event's rule ran once and left its whole effect.
    const applied = await stack!.sql<{ event_id: string; rule: string }>('SELECT e.event_id, a.rule FROM applied_rules a JOIN events e ON e.id = a.event_id');
    expect(applied.map((row) => `${row.event_id} ${row.rule}`).sort()).toEqual(events.map((item) => `${item.eventId} ${item.kind}`).sort());

    const incidents = await stack!.sql<{ dedup_key: string; status: string; alert_count: number }>(
      'SELECT dedup_key, status::text, alert_count FROM incidents ORDER BY dedup_key',
    );
    const expectedIncidents = APPS.flatMap((app) => [buildKey(app), dynoKey(app)])
      .sort()
      .map((dedupKey) => ({ dedup_key: dedupKey, status: 'triggered', alert_count: 2 }));
    expect(incidents).toEqual(expectedIncidents);

    // Each trigger is exactly one timeline entry (the first opens, the second is an alert), on its key's incident.
    const entries = await stack!.sql<{ event_id: string; kind: string; dedup_key: string }>(
      'SELECT e.event_id, t.kind, i.dedup_key FROM timeline_entries t JOIN incidents i ON i.id = t.incident_id LEFT JOIN events e ON e.id = t.event_id',
    );
    const triggers = events.filter((item) => item.kind === 'build-failed' || item.kind === 'dyno-crashed');
    expect(entries.map((row) => `${row.event_id} ${row.dedup_key}`).sort()).toEqual(
      triggers.map((item) => `${item.eventId} ${item.kind === 'build-failed' ? buildKey(item.app) : dynoKey(item.app)}`).sort(),
    );
    for (const key of expectedIncidents) {
      expect(entries.filter((row) => row.dedup_key === key.dedup_key).map((row) => row.kind).sort()).toEqual(['alert', 'triggered']);
    }

    // One pulse per build, made by that build's event.
    const pulses = await stack!.sql<{ dedup_key: string; event_id: string }>('SELECT dedup_key, event_id FROM pulses');
    const builds = events.filter((item) => item.kind === 'build-failed');
    expect(pulses.map((row) => `${row.dedup_key} ${row.event_id}`).sort()).toEqual(builds.map((item) => `build:${item.buildId}:failed ${rowId.get(item.eventId)}`).sort());

    // The "up" events left their mark too: each dyno key remembers when web.1 was last up.
    const keys = await stack!.sql<{ dedup_key: string; last_resolved_at: Date | null }>('SELECT dedup_key, last_resolved_at FROM incident_keys ORDER BY dedup_key');
    expect(keys.map((row) => ({ dedup_key: row.dedup_key, last_resolved_at: row.last_resolved_at?.toISOString() ?? null }))).toEqual(
      expectedIncidents.map(({ dedup_key }) => ({ dedup_key, last_resolved_at: dedup_key.endsWith(':dyno:web.1') ? at(0).toISOString() : null })),
    );

    // The worker did hit the outage: jobs failed on it, then completed once the server was back.
    // (A job completes just after its last event commits.)
    await waitFor(async () => Object.values(await stack!.runtime.queues.events.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).every((n) => n === 0), { what: 'event jobs done' });
    const completed = await stack!.runtime.queues.events.getJobs(['completed']);
    const eventsOfJob = (data: { eventRowId?: string; eventRowIds?: string[] }) => data.eventRowIds ?? [data.eventRowId!];
    // (An event still waiting in a shared job past the grace period gets a job of its own too.)
    expect([...new Set(completed.flatMap((job) => eventsOfJob(job.data)))].sort()).toEqual([...rowId.values()].sort());
    expect(completed.filter((job) => (job.stacktrace ?? []).length > 0).length, 'jobs that failed during the outage, then completed').toBeGreaterThan(0);
    expect(await stack!.runtime.queues.events.getJobCounts('failed')).toEqual({ failed: 0 });

    // And it carries on as before: the builds pass and web.1 comes up, resolving every incident.
    const recovery = APPS.flatMap((app) => [delivery(app, 'build-succeeded', at(5)), delivery(app, 'dyno-up', at(6))]);
    for (const item of recovery) expect(await send(item)).toBe(true);
    await waitFor(async () => (await stack!.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'"))[0].n === events.length + recovery.length, {
      what: 'recovery events processed',
    });
    const resolved = await stack!.sql<{ dedup_key: string; status: string; alert_count: number; resolutions: number }>(
      `SELECT i.dedup_key, i.status::text, i.alert_count, (SELECT count(*)::int FROM timeline_entries t WHERE t.incident_id = i.id AND t.kind = 'resolved') AS resolutions
         FROM incidents i ORDER BY i.dedup_key`,
    );
    expect(resolved).toEqual(expectedIncidents.map((row) => ({ ...row, status: 'resolved', resolutions: 1 })));
    expect((await stack!.sql('SELECT count(*)::int AS n FROM pulses'))[0].n).toBe(builds.length + APPS.length);
    expectWorkerAlive();
  }, 40_000);
});
