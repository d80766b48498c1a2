import { randomUUID } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { jobIdForEventRow, loadRuleSet, markEventsFailed } from '@pulsebridge/core';
import { processEvents } from '@pulsebridge/worker';
import { CONFIG_DIR, createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

// Events stored together share an `event.process` job (fewer Redis round trips and job runs
// per event); each is still applied exactly once, and one that cannot be applied fails alone.

let stack: TestStack | undefined;
let configDir: string | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
  if (configDir !== undefined) rmSync(configDir, { recursive: true, force: true });
  configDir = undefined;
});

const build = (id: string, app: string, extra: object = {}) =>
  JSON.stringify({ id, resource: 'build', action: 'update', data: { id, app: { name: app }, status: 'failed', ...extra }, created_at: '2026-11-24T10:00:00Z' });

const eventsOf = (job: Job): string[] => (job.data as { eventRowIds?: string[] }).eventRowIds ?? [(job.data as { eventRowId: string }).eventRowId];

async function waitingJobs(s: TestStack): Promise<Job[]> {
  return s.runtime.queues.events.getJobs(['waiting']);
}

describe('event jobs', () => {
  it('splits a batch of stored events into jobs of EVENT_JOB_MAX_EVENTS, in order; an event alone keeps the job id of its row', async () => {
    stack = await startTestStack({ config: { EVENT_JOB_MAX_EVENTS: '3' } });
    const events = Array.from({ length: 7 }, () => ({ eventId: randomUUID(), eventRowId: randomUUID() }));
    await stack.runtime.queues.enqueueEvents(events);
    const rowIds: string[] = events.map((event) => event.eventRowId);
    const groups = (await waitingJobs(stack)).map(eventsOf).sort((a, b) => rowIds.indexOf(a[0]!) - rowIds.indexOf(b[0]!));
    expect(groups).toEqual([rowIds.slice(0, 3), rowIds.slice(3, 6), rowIds.slice(6)]);
    expect((await stack.runtime.queues.events.getJob(jobIdForEventRow(events[6]!.eventRowId)))?.data).toEqual({ eventRowId: rowIds[6] });

    // Adding the same batch again adds nothing: job ids derive from the events.
    await stack.runtime.queues.enqueueEvents(events);
    expect(await waitingJobs(stack)).toHaveLength(3);
  });

  it('deliveries that arrive together share jobs, and each is applied exactly once', async () => {
    stack = await startTestStack({ config: { EVENT_JOB_MAX_EVENTS: '4', EVENT_JOB_LINGER_MS: '300' } });
    const integration = await createIntegration(stack, ['app-a', 'app-b']);
    const builds = Array.from({ length: 10 }, (_, i) => ({ id: randomUUID(), app: i % 2 === 0 ? 'app-a' : 'app-b' }));
    const statuses = await Promise.all(builds.map((b) => postWebhook(stack!, integration.id, build(b.id, b.app), { secret: integration.secret }).then((r) => r.status)));
    expect(statuses).toEqual(builds.map(() => 202));
    await stack.api.settled();

    const sizes = (await waitingJobs(stack)).map((job) => eventsOf(job).length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
    expect(Math.max(...sizes)).toBe(4);
    expect(sizes.length).toBeLessThan(10);

    stack.startWorker();
    await waitFor(async () => (await stack!.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'"))[0].n === 10, { what: 'every event processed' });
    const incidents = await stack.sql('SELECT dedup_key, alert_count, status::text FROM incidents ORDER BY dedup_key');
    expect(incidents).toEqual([
      { dedup_key: 'heroku:app-a:build', alert_count: 5, status: 'triggered' },
      { dedup_key: 'heroku:app-b:build', alert_count: 5, status: 'triggered' },
    ]);
    const pulses = await stack.sql<{ dedup_key: string }>('SELECT dedup_key FROM pulses ORDER BY dedup_key');
    expect(pulses.map((row) => row.dedup_key)).toEqual(builds.map((b) => `build:${b.id}:failed`).sort());
    expect(await stack.runtime.queues.events.getJobCounts('failed')).toEqual({ failed: 0 });
  });

  it('an event whose rule renders nonsense is marked failed with the reason; the other events of its job are applied', async () => {
    configDir = mkdtempSync(path.join(tmpdir(), 'pulsebridge-rules-'));
    cpSync(CONFIG_DIR, configDir, { recursive: true });
    appendFileSync(
      path.join(configDir, 'rules.yaml'),
      ['', 'rules:', '  - name: poisoned-build', '    entity: api:build', '    when: data.poisoned == true', '    incident:', '      action: trigger', '      severity: high', '      dedup_key: "{{ data.no_such_field }}"', '      title: "never"', ''].join('\n'),
    );
    stack = await startTestStack({ config: { CONFIG_DIR: configDir, EVENT_JOB_MAX_EVENTS: '3', EVENT_JOB_LINGER_MS: '300' } });
    const integration = await createIntegration(stack, ['app-a']);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const bodies = [build(ids[0]!, 'app-a'), build(ids[1]!, 'app-a', { poisoned: true }), build(ids[2]!, 'app-a')];
    await Promise.all(bodies.map((body) => postWebhook(stack!, integration.id, body, { secret: integration.secret })));
    await stack.api.settled();
    expect((await waitingJobs(stack)).map((job) => eventsOf(job).length)).toEqual([3]);

    stack.startWorker();
    await waitFor(async () => (await stack!.sql("SELECT count(*)::int AS n FROM events WHERE status = 'received'"))[0].n === 0, { what: 'every event done' });
    const rows = await stack.sql<{ event_id: string; status: string; error: string | null }>('SELECT event_id, status::text, error FROM events');
    const byId = new Map(rows.map((row) => [row.event_id, row]));
    expect(byId.get(ids[0]!)).toMatchObject({ status: 'processed', error: null });
    expect(byId.get(ids[1]!)).toMatchObject({ status: 'failed', error: 'rule poisoned-build: dedup_key rendered empty for this event' });
    expect(byId.get(ids[2]!)).toMatchObject({ status: 'processed', error: null });
    // The good events did everything they do: the incident counts both, each made its pulse.
    expect(await stack.sql('SELECT alert_count FROM incidents')).toEqual([{ alert_count: 2 }]);
    expect((await stack.sql('SELECT dedup_key FROM pulses ORDER BY dedup_key')).map((row) => row.dedup_key)).toEqual([`build:${ids[0]}:failed`, `build:${ids[2]}:failed`].sort());
    await waitFor(async () => (await stack!.runtime.queues.events.getJobCounts('completed')).completed === 1, { what: 'the job completed' });
  });

  it('a job that fails for good marks only those of its events not applied yet', async () => {
    stack = await startTestStack();
    const integration = await createIntegration(stack, ['app-a']);
    const [applied, pending] = [randomUUID(), randomUUID()];
    await postWebhook(stack, integration.id, build(applied, 'app-a'), { secret: integration.secret });
    const worker = stack.startWorker();
    await waitFor(async () => (await stack!.sql('SELECT status::text FROM events WHERE event_id = $1', [applied]))[0]?.status === 'processed', { what: 'first event processed' });
    await worker.close();
    await postWebhook(stack, integration.id, build(pending, 'app-a'), { secret: integration.secret });
    await stack.api.settled();

    const rowIds = (await stack.sql<{ id: string }>('SELECT id FROM events ORDER BY received_at')).map((row) => row.id);
    await markEventsFailed(stack.runtime.db.pool, rowIds, 'gave up after 3 attempts');
    const rows = await stack.sql('SELECT event_id, status::text, error FROM events ORDER BY received_at');
    expect(rows).toEqual([
      { event_id: applied, status: 'processed', error: null },
      { event_id: pending, status: 'failed', error: 'gave up after 3 attempts' },
    ]);
  });

  it('a job that finds its event applied by another sends its notifications again, unless the reconciler added it', async () => {
    stack = await startTestStack();
    const integration = await createIntegration(stack, ['app-a']);
    const id = randomUUID();
    await postWebhook(stack, integration.id, build(id, 'app-a'), { secret: integration.secret });
    await stack.api.settled();
    const [row] = await stack.sql<{ id: string }>('SELECT id FROM events WHERE event_id = $1', [id]);
    const rules = await loadRuleSet(CONFIG_DIR);
    const sent: unknown[] = [];
    const deps = { pool: stack.runtime.db.pool, logger: stack.runtime.logger, rules, notify: async (touched: unknown) => void sent.push(touched) };
    await processEvents({ eventRowIds: [row!.id], replay: false, requeued: false }, deps);
    const [incident] = await stack.sql<{ id: string }>('SELECT id FROM incidents');
    expect(sent).toEqual([{ incidents: [expect.objectContaining({ id: incident!.id, opened: true })], pulseIds: [expect.any(String)] }]);

    // A retry of the job that applied it (it may have stopped before notifying): sent again.
    await processEvents({ eventRowIds: [row!.id], replay: false, requeued: false }, deps);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual(sent[0]);
    // The reconciler's job for it: the job that applied it sends them.
    await processEvents({ eventRowIds: [row!.id], replay: false, requeued: true }, deps);
    expect(sent).toHaveLength(2);
    expect(await stack.sql('SELECT alert_count FROM incidents')).toEqual([{ alert_count: 1 }]);
  });
});
