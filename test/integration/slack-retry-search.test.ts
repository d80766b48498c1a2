import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, slackSettings, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { dynoCrashBody } from '../support/fixtures.js';

/**
 * Searching Slack for an earlier post costs calls from a rate-limited tier. A retry only needs it
 * when an earlier attempt may have posted; one that Slack refused with a 429, or that waited for
 * a busy channel, is known not to have.
 */
let slack: FakeSlack;
let stack: TestStack;
let integration: { id: string; secret: string };

beforeAll(async () => {
  slack = await startFakeSlack();
  stack = await startTestStack({ config: slackSettings(slack, { SLACK_CHANNEL_INTERVAL_MS: '20' }) });
  integration = await createIntegration(stack, ['refused-root', 'refused-reply']);
  stack.startWorker();
});
afterAll(async () => {
  await stack?.stop();
  await slack?.close();
});

const searches = () => slack.calls.filter((c) => c.method.startsWith('conversations.'));
const rootsFor = (app: string) => slack.messages(slack.channelId('general')).filter((m) => m.thread_ts === undefined && JSON.stringify(m.blocks).includes(`crashed on ${app}`));

describe('a Slack post retried after Slack refused it with a 429', () => {
  it('is posted once, without searching Slack first', async () => {
    slack.failNext('chat.postMessage', 1, { kind: 'rate_limited', retryAfter: 1 });
    expect((await postWebhook(stack, integration.id, dynoCrashBody('refused-root'), { secret: integration.secret })).status).toBe(202);
    await waitFor(() => rootsFor('refused-root').length === 1, { what: 'the message posted on the retry', timeoutMs: 15_000 });
    expect(slack.calls.filter((c) => c.method === 'chat.postMessage').map((c) => c.status)).toEqual([429, 200]);
    expect(searches()).toEqual([]);
    // The post that went through marked the row: had its answer been lost, a retry would search.
    const row = await waitFor(async () => (await stack.sql("SELECT status::text, maybe_posted FROM slack_messages WHERE target = '#general' AND status = 'posted'"))[0], { what: 'the post recorded' });
    expect(row).toEqual({ status: 'posted', maybe_posted: true });
  });

  it('as a thread reply, is posted once, without searching the thread first', async () => {
    expect((await postWebhook(stack, integration.id, dynoCrashBody('refused-reply'), { secret: integration.secret })).status).toBe(202);
    await waitFor(() => rootsFor('refused-reply').length === 1, { what: 'the incident message' });
    const [root] = rootsFor('refused-reply');
    slack.failNext('chat.postMessage', 1, { kind: 'rate_limited', retryAfter: 1 });
    expect((await postWebhook(stack, integration.id, dynoCrashBody('refused-reply'), { secret: integration.secret })).status).toBe(202);
    const thread = () => slack.messages(slack.channelId('general')).filter((m) => m.thread_ts === root!.ts);
    await waitFor(() => thread().length === 1, { what: 'the reply posted on the retry', timeoutMs: 15_000 });
    expect(thread()[0]!.text).toContain('Alert: Dyno web.1 crashed on refused-reply');
    expect(slack.calls.filter((c) => c.method === 'chat.postMessage' && c.status === 429)).toHaveLength(2);
    expect(searches()).toEqual([]);
  });
});
