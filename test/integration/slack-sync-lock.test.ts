import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyEvent,
  createChannelPacer,
  createSlackClient,
  loadRuleSet,
  loadSlackTemplates,
  postPulseToSlack,
  syncIncidentToSlack,
  type RuleSet,
  type SlackDeliveryDeps,
} from '@pulsebridge/core';
import { CONFIG_DIR, createIntegration, postWebhook, slackSettings, startTestStack, type TestStack } from '../support/stack.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';

// Syncs of one incident that run at once (jobs for several revisions, several workers) take
// turns on its lock, and each one sees what the one before it wrote: the lock is handed over
// in the holder's last write and held until that write commits.
const AT_ONCE = 12;

let slack: FakeSlack;
let stack: TestStack;
let deps: SlackDeliveryDeps;
let rules: RuleSet;
let integration: { id: string; secret: string };

beforeAll(async () => {
  slack = await startFakeSlack();
  // No worker runs: the test applies events and runs syncs itself.
  stack = await startTestStack({ config: slackSettings(slack, { DATABASE_POOL_SIZE: String(AT_ONCE + 4) }) });
  integration = await createIntegration(stack, ['racy']);
  rules = await loadRuleSet(CONFIG_DIR);
  deps = {
    pool: stack.runtime.db.pool,
    slack: createSlackClient({ botToken: stack.config.slack.botToken, apiUrl: stack.config.slack.apiUrl })!,
    templates: await loadSlackTemplates(CONFIG_DIR),
    pacer: createChannelPacer(stack.runtime.redis, { prefix: stack.config.queuePrefix, intervalMs: 0, burst: 100 }),
    logger: stack.runtime.logger,
    publicUrl: stack.config.publicUrl,
    defaultChannel: stack.config.slack.defaultChannel,
  };
});
afterAll(async () => {
  await stack?.stop();
  await slack?.close();
});

/** Stores a dyno event through the webhook and applies it, as a worker would. */
async function applyDynoEvent(state: 'crashed' | 'up'): Promise<void> {
  const id = randomUUID();
  const body = { id, data: { app: { name: 'racy' }, name: 'web.1', state, management: 'formation', ...(state === 'crashed' && { exit_status: 1 }) }, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } };
  expect((await postWebhook(stack, integration.id, JSON.stringify(body), { secret: integration.secret })).status).toBe(202);
  const [row] = await stack.sql<{ id: string }>('SELECT id FROM events WHERE event_id = $1', [id]);
  expect((await applyEvent(stack.runtime.db.pool, rules, row!.id)).status).toBe('processed');
}

const syncAtOnce = (incidentId: string) => Promise.all(Array.from({ length: AT_ONCE }, () => syncIncidentToSlack(deps, incidentId)));
const count = (method: string) => slack.calls.filter((c) => c.method === method && c.ok).length;

describe('syncs of one incident at once', () => {
  it('post once, update once and reply once per change, without searching Slack for lost answers', async () => {
    await applyDynoEvent('crashed');
    const [incident] = await stack.sql<{ id: string }>("SELECT id FROM incidents WHERE dedup_key = 'heroku:racy:dyno:web.1'");
    await syncAtOnce(incident!.id);
    expect(count('chat.postMessage')).toBe(1);

    // A grouped alert: the message is updated and the thread gets one reply.
    await applyDynoEvent('crashed');
    await syncAtOnce(incident!.id);
    expect(count('chat.update')).toBe(1);
    expect(count('chat.postMessage')).toBe(2);

    // Acknowledged from the API: one more update and reply.
    expect((await stack.call('POST', `/api/v1/incidents/${incident!.id}/acknowledge`)).status).toBe(200);
    await syncAtOnce(incident!.id);
    expect(count('chat.update')).toBe(2);
    expect(count('chat.postMessage')).toBe(3);

    // An update without a reply (the sync's last write is the rendering): still one update.
    await stack.sql("UPDATE incidents SET title = 'Dyno web.1 crashed on racy (renamed)', updated_at = updated_at + interval '1 second' WHERE id = $1", [incident!.id]);
    await syncAtOnce(incident!.id);
    expect(count('chat.update')).toBe(3);
    expect(count('chat.postMessage')).toBe(3);

    // A sync that waited behind the one that posted had nothing left to find.
    expect(count('conversations.history') + count('conversations.replies')).toBe(0);
    const root = slack.messages(slack.channelId('general')).find((m) => m.thread_ts === undefined)!;
    expect(slack.messages(slack.channelId('general')).filter((m) => m.thread_ts === root.ts).map((m) => m.text)).toEqual([
      'Alert: Dyno web.1 crashed on racy (exit status 1)',
      'Acknowledged by admin (ADMIN_TOKEN)',
    ]);
    // Every lock was released: a sync after all of them runs at once.
    const [locks] = await stack.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    expect(locks!.n).toBe(0);
  });
});

describe('posts of one pulse at once', () => {
  it('post it once, and the ones that waited search nothing', async () => {
    const id = randomUUID();
    const body = { id, resource: 'build', action: 'update', data: { id: randomUUID(), app: { name: 'racy' }, status: 'succeeded', source_blob: { version: 'v42' } }, created_at: new Date().toISOString() };
    expect((await postWebhook(stack, integration.id, JSON.stringify(body), { secret: integration.secret })).status).toBe(202);
    const [event] = await stack.sql<{ id: string }>('SELECT id FROM events WHERE event_id = $1', [id]);
    expect((await applyEvent(stack.runtime.db.pool, rules, event!.id)).status).toBe('processed');
    const [pulse] = await stack.sql<{ id: string; summary: string }>('SELECT id, summary FROM pulses WHERE event_id = $1', [event!.id]);
    const searchesBefore = count('conversations.history') + count('conversations.replies');

    const results = await Promise.all(Array.from({ length: AT_ONCE }, () => postPulseToSlack(deps, pulse!.id)));
    expect(results.filter((r) => r.status === 'synced' && r.posted === 1)).toHaveLength(1);
    expect(slack.messages(slack.channelId('general')).filter((m) => m.text === pulse!.summary)).toHaveLength(1);
    expect(count('conversations.history') + count('conversations.replies')).toBe(searchesBefore);
    const [locks] = await stack.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    expect(locks!.n).toBe(0);
  });
});
