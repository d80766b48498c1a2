import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

let stack: TestStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const build = (id: string, app = 'sample-app') =>
  JSON.stringify({ id, resource: 'build', action: 'update', data: { app: { name: app }, status: 'failed' }, created_at: '2026-11-24T10:00:00Z' });

async function statusOf(s: TestStack, eventId: string) {
  return (await s.sql('SELECT status::text, error FROM events WHERE event_id = $1', [eventId]))[0] as { status: string; error: string | null } | undefined;
}

/** The event rows the waiting event jobs carry. */
async function queuedEventRows(s: TestStack): Promise<string[]> {
  const jobs = await s.runtime.queues.events.getJobs(['waiting', 'prioritized', 'delayed']);
  return jobs.flatMap((job) => (job.data as { eventRowId?: string; eventRowIds?: string[] }).eventRowIds ?? [job.data.eventRowId as string]);
}

describe('nothing acknowledged is lost', () => {
  it('Redis loses its data after the 202: the reconciler enqueues the events again and they are processed', async () => {
    stack = await startTestStack({ config: { RECONCILE_GRACE_MS: '300', RECONCILE_INTERVAL_MS: '200' } });
    const integration = await createIntegration(stack, ['sample-app']);
    const ids = Array.from({ length: 25 }, () => randomUUID());
    for (const id of ids) expect((await postWebhook(stack, integration.id, build(id), { secret: integration.secret })).status).toBe(202);
    await stack.api.settled();
    // Deliveries enqueued together may share a job: every event is in one, whichever.
    expect(await queuedEventRows(stack)).toHaveLength(ids.length);

    await stack.wipeRedis();
    expect(await queuedEventRows(stack)).toEqual([]);

    stack.startWorker();
    await waitFor(async () => {
      const rows = await stack!.sql("SELECT count(*)::int AS n FROM events WHERE status = 'processed'");
      return rows[0].n === ids.length;
    }, { what: 'all events processed after Redis lost them', timeoutMs: 15_000 });
  });

  it('an enqueue that fails while Redis is unreachable still answers 202, and the event is processed later', async () => {
    stack = await startTestStack({ config: { RECONCILE_GRACE_MS: '300', RECONCILE_INTERVAL_MS: '200' } });
    const integration = await createIntegration(stack, ['sample-app']);
    // Cut the API's producer connection: commands fail at once (no offline queue).
    stack.runtime.redis.disconnect();
    const id = randomUUID();
    const response = await postWebhook(stack, integration.id, build(id), { secret: integration.secret });
    expect(response.status).toBe(202);
    await stack.api.settled();
    expect((await statusOf(stack, id))?.status).toBe('received');
    await stack.runtime.redis.connect();
    expect(await queuedEventRows(stack)).toEqual([]);

    stack.startWorker();
    await waitFor(async () => (await statusOf(stack!, id))?.status === 'processed', { what: 'processed after reconcile' });
  });

  it('events for apps the integration does not monitor are stored as skipped', async () => {
    stack = await startTestStack();
    const integration = await createIntegration(stack, ['sample-app']);
    stack.startWorker();
    const other = randomUUID();
    const caseDiffers = randomUUID();
    expect((await postWebhook(stack, integration.id, build(other, 'someone-elses-app'), { secret: integration.secret })).status).toBe(202);
    expect((await postWebhook(stack, integration.id, build(caseDiffers, 'Sample-App'), { secret: integration.secret })).status).toBe(202);
    for (const id of [other, caseDiffers]) {
      const row = await waitFor(async () => {
        const current = await statusOf(stack!, id);
        return current?.status === 'skipped' ? current : undefined;
      });
      expect(row.error).toMatch(/not monitored/);
    }
  });

  it('a job that exhausts its retries marks its event failed with the error; replay processes it again', async () => {
    stack = await startTestStack({ config: { EVENT_JOB_ATTEMPTS: '2' } });
    const integration = await createIntegration(stack, ['sample-app']);
    // A real database fault for one event: marking it processed is refused.
    await stack.sql(`
      CREATE FUNCTION refuse_processed() RETURNS trigger AS $$
      BEGIN
        IF NEW.status = 'processed' AND NEW.app_name = 'sample-app' THEN RAISE EXCEPTION 'disk on fire'; END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql;
      CREATE TRIGGER refuse_processed BEFORE UPDATE ON events FOR EACH ROW EXECUTE FUNCTION refuse_processed();`);
    stack.startWorker();
    const id = randomUUID();
    expect((await postWebhook(stack, integration.id, build(id), { secret: integration.secret })).status).toBe(202);

    const failed = await waitFor(async () => {
      const row = await statusOf(stack!, id);
      return row?.status === 'failed' ? row : undefined;
    }, { what: 'event marked failed', timeoutMs: 15_000 });
    expect(failed.error).toMatch(/disk on fire/);

    const list = await stack.call('GET', '/api/v1/events?status=failed');
    expect(list.status).toBe(200);
    expect(list.body.items.map((item: { eventId: string }) => item.eventId)).toEqual([id]);
    expect(list.body.items[0].error).toMatch(/disk on fire/);

    await stack.sql('DROP TRIGGER refuse_processed ON events');
    const replay = await stack.call('POST', `/api/v1/events/${list.body.items[0].id}/replay`);
    expect(replay.status).toBe(202);
    await waitFor(async () => (await statusOf(stack!, id))?.status === 'processed', { what: 'replayed event processed' });
    expect((await statusOf(stack, id))?.error).toBeNull();
  });
});
