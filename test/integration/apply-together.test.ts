import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPlannedEvents, loadRuleSet, planEvent, readEventsToApply, type PlannedEvent, type RuleSet } from '@pulsebridge/core';
import { CONFIG_DIR, createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

// A job's events are applied in one transaction (`pulsebridge_apply_events`). It takes every
// lock it needs before writing anything, in one order, so two jobs with keys in common wait for
// each other whole and never deadlock; and when the transaction fails, its events are applied
// one by one, so one that cannot be applied fails alone.

let stack: TestStack;
let integration: { id: string; secret: string };
let rules: RuleSet;

beforeAll(async () => {
  stack = await startTestStack();
  integration = await createIntegration(stack, ['lock-a', 'lock-b']);
  rules = await loadRuleSet(CONFIG_DIR);
});
afterAll(async () => {
  await stack?.stop();
});

/** Stores a delivery (no worker runs here) and returns its plan. */
async function stored(body: object & { id: string }): Promise<PlannedEvent> {
  expect((await postWebhook(stack, integration.id, JSON.stringify(body), { secret: integration.secret })).status).toBe(202);
  await stack.api.settled();
  const [row] = await stack.sql<{ id: string }>('SELECT id FROM events WHERE event_id = $1', [body.id]);
  const event = (await readEventsToApply(stack.runtime.db.pool, [row!.id])).get(row!.id)!;
  const plan = planEvent(rules, event);
  if (plan === 'already_done') throw new Error('stored event already done');
  return plan;
}

function crash(app: string) {
  const id = randomUUID();
  return { id, data: { app: { name: app }, name: 'web.1', state: 'crashed', management: 'formation', exit_status: 1 }, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } };
}

function failedBuild(app: string) {
  const id = randomUUID();
  return { id, resource: 'build', action: 'update', data: { id, app: { name: app }, status: 'failed' }, created_at: new Date().toISOString() };
}

const statusOf = async (plan: PlannedEvent) => (await stack.sql('SELECT status::text FROM events WHERE id = $1', [plan.eventRowId]))[0]?.status;

describe('events applied together', () => {
  it('a job waits for the keys another job holds before it writes anything, then applies all its events', async () => {
    const first = await stored(crash('lock-a'));
    const [other, same] = [await stored(crash('lock-b')), await stored(crash('lock-a'))];
    expect(same.commands.incidents[0]!.dedupKey).toBe(first.commands.incidents[0]!.dedupKey);

    // A transaction holding the first event's key, as a job applying it does until it commits.
    const holder = new pg.Client({ connectionString: stack.config.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pulsebridge_apply_events($1::jsonb, false)', [JSON.stringify([{ event: first.eventRowId, commands: first.commands, reason: null }])]);

      // A job of an event on another key, then one on the held key.
      const applying = applyPlannedEvents(stack.runtime.db.pool, [other, same]);
      const waiting = async () =>
        stack.sql<{ locktype: string; wrote: boolean }>(
          `SELECT l.locktype, a.backend_xid IS NOT NULL AS wrote FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE NOT l.granted AND a.datname = current_database()`,
        );
      await waitFor(async () => (await waiting()).length > 0, { what: 'the second job waiting' });
      // It waits for the key's lock, and has not applied the event on the other key meanwhile
      // (which would hold that key's locks while it waits: two such jobs could deadlock).
      expect(await waiting()).toEqual([{ locktype: 'advisory', wrote: false }]);

      await holder.query('COMMIT');
      const outcomes = await applying;
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['processed', 'processed']);
    } finally {
      await holder.end();
    }
    const incidents = await stack.sql('SELECT app_name, alert_count FROM incidents ORDER BY app_name');
    expect(incidents).toEqual([
      { app_name: 'lock-a', alert_count: 2 },
      { app_name: 'lock-b', alert_count: 1 },
    ]);
  });

  it('when the transaction fails, the events are applied one by one: the one that cannot be applied fails alone', async () => {
    const before = await stored(failedBuild('lock-a'));
    const broken = await stored(failedBuild('lock-b'));
    const after = await stored(failedBuild('lock-b'));
    // A pulse kind the database does not know: its insert fails.
    const bad: PlannedEvent = { ...broken, commands: { ...broken.commands, pulses: broken.commands.pulses.map((pulse) => ({ ...pulse, kind: 'nonsense' as 'build' })) } };

    await expect(applyPlannedEvents(stack.runtime.db.pool, [before, bad, after])).rejects.toThrow(/PulseKind/);
    expect([await statusOf(before), await statusOf(broken), await statusOf(after)]).toEqual(['processed', 'received', 'processed']);
    const pulses = await stack.sql<{ event_id: string }>('SELECT event_id FROM pulses WHERE event_id = ANY($1::uuid[])', [[before.eventRowId, broken.eventRowId, after.eventRowId]]);
    expect(pulses.map((pulse) => pulse.event_id).sort()).toEqual([before.eventRowId, after.eventRowId].sort());

    // The job retried: the events applied are found done.
    const retried = await applyPlannedEvents(stack.runtime.db.pool, [before, after]);
    expect(retried.map((outcome) => outcome.status)).toEqual(['already_done', 'already_done']);
  });
});
