import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { LogLevel, WebClient, type Logger } from '@slack/web-api';
import { DEFAULT_FAKE_SLACK_CHANNELS, startFakeSlack, type FakeSlack } from '../support/fake-slack.js';

let fake: FakeSlack;
let client: WebClient;

/** Keeps the client's own logging (it logs refusals' response_metadata messages) out of the test output. */
const quietLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

const clientWith = (token: string | undefined, extra: Record<string, unknown> = {}) =>
  new WebClient(token, { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, logger: quietLogger, ...extra });

/** The error a Slack call throws (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<any> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected the call to fail, got ${JSON.stringify(outcome.value)}`);
  return outcome.error;
}

const platformError = async (promise: Promise<unknown>) => {
  const error = await failure(promise);
  expect(error.code).toBe('slack_webapi_platform_error');
  return error.data as { error: string; response_metadata?: { messages?: string[] } };
};

const lastCall = () => fake.calls[fake.calls.length - 1];

beforeAll(async () => {
  fake = await startFakeSlack({ notInChannel: ['#general'] });
  client = clientWith(fake.token);
});
afterAll(async () => fake?.close());
beforeEach(() => fake.reset());

describe('fake Slack: messages', () => {
  it('posts a message by channel name and records it', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*Database down*' } }];
    const metadata = { event_type: 'incident_opened', event_payload: { incident_id: 'inc-1' } };
    const result = await client.chat.postMessage({ channel: '#ops', text: 'Database down', blocks, metadata });
    expect(result.ok).toBe(true);
    expect(result.channel).toBe('C0OPS0001');
    expect(result.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(result.message).toMatchObject({ text: 'Database down', ts: result.ts, blocks, metadata });

    expect(fake.messages('#ops')).toEqual([{ channel: 'C0OPS0001', ts: result.ts, text: 'Database down', blocks, metadata, edits: 0 }]);
    expect(fake.messages('C0OPS0001')).toHaveLength(1);
    expect(fake.messages('alerts')).toEqual([]);
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({ method: 'chat.postMessage', status: 200, ok: true, params: { channel: '#ops', blocks, metadata } });
    expect(fake.calls[0]!.at).toBeLessThanOrEqual(Date.now());
  });

  it('hands out strictly increasing ts', async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => client.chat.postMessage({ channel: 'alerts', text: `m${n}` })));
    const ts = fake.messages('alerts').map((m) => m.ts);
    expect(new Set(ts).size).toBe(5);
    expect([...ts].sort()).toEqual(ts);
    expect(results.map((r) => r.ts).sort()).toEqual(ts);
  });

  it('posts thread replies under a top-level message, and refuses an unknown thread', async () => {
    const parent = await client.chat.postMessage({ channel: 'ops', text: 'parent' });
    const reply = await client.chat.postMessage({ channel: 'C0OPS0001', text: 'reply', thread_ts: parent.ts! });
    expect(reply.message?.thread_ts).toBe(parent.ts);
    expect(fake.messages('ops').map((m) => [m.text, m.thread_ts])).toEqual([
      ['parent', undefined],
      ['reply', parent.ts],
    ]);
    expect((await platformError(client.chat.postMessage({ channel: 'ops', text: 'x', thread_ts: '1.000001' }))).error).toBe('thread_not_found');
    expect((await platformError(client.chat.postMessage({ channel: 'ops', text: 'x', thread_ts: reply.ts! }))).error).toBe('thread_not_found');
    expect(fake.messages('ops')).toHaveLength(2);
  });

  it('updates a message in place and counts the edits', async () => {
    const posted = await client.chat.postMessage({ channel: 'ops', text: 'Triggered' });
    const updated = await client.chat.update({ channel: 'C0OPS0001', ts: posted.ts!, text: 'Acknowledged', blocks: [{ type: 'divider' }] });
    expect(updated).toMatchObject({ ok: true, channel: 'C0OPS0001', ts: posted.ts, text: 'Acknowledged' });
    await client.chat.update({ channel: '#ops', ts: posted.ts!, text: 'Resolved' });
    expect(fake.messages('ops')).toEqual([{ channel: 'C0OPS0001', ts: posted.ts, text: 'Resolved', blocks: [{ type: 'divider' }], edits: 2 }]);
    expect((await platformError(client.chat.update({ channel: 'ops', ts: '1.000001', text: 'x' }))).error).toBe('message_not_found');
    expect((await platformError(client.chat.update({ channel: 'alerts', ts: posted.ts!, text: 'x' }))).error).toBe('message_not_found');
  });

  it('lists history newest first, top-level only, with metadata only when asked', async () => {
    const metadata = { event_type: 'incident_opened', event_payload: { incident_id: 'inc-7' } };
    const first = await client.chat.postMessage({ channel: 'ops', text: 'first', metadata });
    await client.chat.postMessage({ channel: 'ops', text: 'in thread', thread_ts: first.ts! });
    const second = await client.chat.postMessage({ channel: 'ops', text: 'second' });
    await client.chat.postMessage({ channel: 'alerts', text: 'elsewhere' });

    const plain = await client.conversations.history({ channel: 'C0OPS0001' });
    expect(plain.has_more).toBe(false);
    expect(plain.messages?.map((m) => [m.ts, m.text])).toEqual([
      [second.ts, 'second'],
      [first.ts, 'first'],
    ]);
    expect(plain.messages?.[1]).toMatchObject({ type: 'message', reply_count: 1, thread_ts: first.ts });
    expect(plain.messages?.some((m) => 'metadata' in m)).toBe(false);

    const withMetadata = await client.conversations.history({ channel: '#ops', include_all_metadata: true });
    expect(withMetadata.messages?.[1]?.metadata).toEqual(metadata);
    expect(withMetadata.messages?.[0]?.metadata).toBeUndefined();

    const limited = await client.conversations.history({ channel: 'ops', limit: 1 });
    expect(limited.messages?.map((m) => m.text)).toEqual(['second']);
    expect(limited.has_more).toBe(true);
    expect(fake.calls.at(-1)).toMatchObject({ method: 'conversations.history', ok: true });
    const rest = await client.conversations.history({ channel: 'ops', limit: 1, cursor: limited.response_metadata!.next_cursor! });
    expect(rest.messages?.map((m) => m.text)).toEqual(['first']);
    expect(rest.has_more).toBe(false);
    expect(rest.response_metadata?.next_cursor).toBeUndefined();
    expect((await platformError(client.conversations.history({ channel: 'ops', cursor: 'bm9wZQ==' }))).error).toBe('invalid_cursor');
    expect((await platformError(client.conversations.history({ channel: 'nope' }))).error).toBe('channel_not_found');
  });

  it('lists the workspace channels a page at a time, with names and ids', async () => {
    const seen: { id?: string; name?: string; is_member?: boolean }[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.conversations.list({ types: 'public_channel,private_channel', exclude_archived: true, limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...(page.channels ?? []));
      cursor = page.response_metadata?.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen.map((c) => [c.name, c.id])).toEqual(Object.entries(DEFAULT_FAKE_SLACK_CHANNELS));
    // This fake was started with the bot outside #general.
    expect(seen.filter((c) => !c.is_member).map((c) => c.name)).toEqual(['general']);
    expect((await client.conversations.list({ types: 'im' })).channels).toEqual([]);
  });

  it('answers conversations.* over GET with a query string too', async () => {
    const posted = await client.chat.postMessage({ channel: 'ops', text: 'hello' });
    const response = await fetch(`${fake.apiUrl}conversations.history?channel=ops&limit=10`, { headers: { Authorization: `Bearer ${fake.token}` } });
    const body: any = await response.json();
    expect(body).toMatchObject({ ok: true, messages: [{ ts: posted.ts, text: 'hello' }] });
  });

  it('lists a thread: the parent, then its replies oldest first', async () => {
    const metadata = { event_type: 'incident_opened', event_payload: { n: 1 } };
    const parent = await client.chat.postMessage({ channel: 'ops', text: 'parent', metadata });
    const r1 = await client.chat.postMessage({ channel: 'ops', text: 'r1', thread_ts: parent.ts! });
    await client.chat.postMessage({ channel: 'ops', text: 'unrelated' });
    const r2 = await client.chat.postMessage({ channel: 'ops', text: 'r2', thread_ts: parent.ts! });

    const thread = await client.conversations.replies({ channel: 'ops', ts: parent.ts! });
    expect(thread.messages?.map((m) => [m.ts, m.text])).toEqual([
      [parent.ts, 'parent'],
      [r1.ts, 'r1'],
      [r2.ts, 'r2'],
    ]);
    expect(thread.messages?.[0]?.metadata).toBeUndefined();
    const withMetadata = await client.conversations.replies({ channel: 'ops', ts: parent.ts!, include_all_metadata: true });
    expect(withMetadata.messages?.[0]?.metadata).toEqual(metadata);
    expect((await platformError(client.conversations.replies({ channel: 'ops', ts: '1.000001' }))).error).toBe('thread_not_found');
  });
});

describe('fake Slack: refusals', () => {
  it('checks parameters against the OpenAPI spec', async () => {
    const missing = await platformError(client.apiCall('chat.postMessage', { text: 'no channel' }));
    expect(missing).toMatchObject({ error: 'invalid_arguments', response_metadata: { messages: ['[ERROR] missing required field: channel'] } });
    expect(lastCall()).toMatchObject({ method: 'chat.postMessage', status: 200, ok: false, error: 'invalid_arguments' });

    const unknown = await platformError(client.apiCall('chat.postMessage', { channel: 'ops', text: 'x', colour: 'red' }));
    expect(unknown.error).toBe('invalid_arguments');
    expect(unknown.response_metadata?.messages).toEqual([expect.stringContaining('colour')]);

    const missingTs = await platformError(client.apiCall('chat.update', { channel: 'ops', text: 'x' }));
    expect(missingTs.response_metadata?.messages).toEqual(['[ERROR] missing required field: ts']);
    // Parameters newer than the 2020 spec are allowed where the product uses them.
    await client.chat.postMessage({ channel: 'ops', text: 'x', metadata: { event_type: 'e', event_payload: {} } });
    await client.conversations.replies({ channel: 'ops', ts: fake.messages('ops')[0]!.ts, include_all_metadata: true });
    expect(fake.messages()).toHaveLength(1);
  });

  it('checks message content', async () => {
    const header = (text: string) => [{ type: 'header', text: { type: 'plain_text', text } }];
    await client.chat.postMessage({ channel: 'ops', text: 'ok', blocks: header('h'.repeat(150)) });
    const long = await platformError(client.chat.postMessage({ channel: 'ops', text: 'x', blocks: header('h'.repeat(151)) }));
    expect(long.error).toBe('invalid_blocks');
    expect(long.response_metadata?.messages?.[0]).toContain('/blocks/0/text/text');

    const section = (fields: number, chars = 5) => [
      { type: 'section', fields: Array.from({ length: fields }, () => ({ type: 'mrkdwn', text: 'f'.repeat(chars) })) },
    ];
    await client.chat.postMessage({ channel: 'ops', text: 'ok', blocks: section(10, 2000) });
    expect((await platformError(client.chat.postMessage({ channel: 'ops', text: 'x', blocks: section(11) }))).error).toBe('invalid_blocks');
    expect((await platformError(client.chat.postMessage({ channel: 'ops', text: 'x', blocks: section(1, 2001) }))).error).toBe('invalid_blocks');
    const bigSection = [{ type: 'section', text: { type: 'mrkdwn', text: 's'.repeat(3001) } }];
    expect((await platformError(client.chat.postMessage({ channel: 'ops', text: 'x', blocks: bigSection }))).error).toBe('invalid_blocks');
    const tooMany = Array.from({ length: 51 }, () => ({ type: 'divider' }));
    expect((await platformError(client.chat.postMessage({ channel: 'ops', text: 'x', blocks: tooMany }))).error).toBe('invalid_blocks');
    expect((await platformError(client.apiCall('chat.postMessage', { channel: 'ops', text: 'x', blocks: [{ text: 'no type' }] }))).error).toBe(
      'invalid_blocks',
    );
    expect((await platformError(client.apiCall('chat.postMessage', { channel: 'ops', text: 'x', blocks: 'not json' }))).error).toBe('invalid_blocks');

    expect((await platformError(client.apiCall('chat.postMessage', { channel: 'ops' }))).error).toBe('no_text');
    expect((await platformError(client.chat.postMessage({ channel: 'ops', text: 't'.repeat(40_001) }))).error).toBe('msg_too_long');
    expect((await platformError(client.apiCall('chat.postMessage', { channel: 'ops', text: 'x', metadata: { event_type: 'e' } }))).error).toBe(
      'invalid_metadata',
    );
    expect((await platformError(client.apiCall('chat.postMessage', { channel: 'ops', text: 'x', metadata: '{nope' }))).error).toBe(
      'invalid_arguments',
    );
    expect(fake.messages('ops')).toHaveLength(2);
  });

  it('refuses unknown channels, channels the bot is not in, and bad tokens', async () => {
    expect((await platformError(client.chat.postMessage({ channel: '#nowhere', text: 'x' }))).error).toBe('channel_not_found');
    expect((await platformError(client.chat.postMessage({ channel: 'general', text: 'x' }))).error).toBe('not_in_channel');
    expect((await platformError(client.chat.postMessage({ channel: 'C0GENERAL1', text: 'x' }))).error).toBe('not_in_channel');
    expect((await platformError(clientWith('xoxb-wrong').chat.postMessage({ channel: 'ops', text: 'x' }))).error).toBe('invalid_auth');
    expect((await platformError(clientWith(undefined).chat.postMessage({ channel: 'ops', text: 'x' }))).error).toBe('not_authed');
    expect(fake.messages()).toEqual([]);
    expect(fake.calls.map((c) => [c.ok, c.error])).toEqual([
      [false, 'channel_not_found'],
      [false, 'not_in_channel'],
      [false, 'not_in_channel'],
      [false, 'invalid_auth'],
      [false, 'not_authed'],
    ]);
  });

  it('resolves channel names', () => {
    expect(fake.channelId('#deploys')).toBe('C0DEPLOY01');
    expect(fake.channelId('deploys')).toBe('C0DEPLOY01');
    expect(fake.channelId('C0DEPLOY01')).toBe('C0DEPLOY01');
    expect(() => fake.channelId('#nope')).toThrow(/unknown channel/);
  });
});

describe('fake Slack: faults', () => {
  it('answers 429 with Retry-After for rate_limited, before any effect', async () => {
    fake.failNext('chat.postMessage', 1, { kind: 'rate_limited', retryAfter: 7 });
    const error = await failure(client.chat.postMessage({ channel: 'ops', text: 'x' }));
    expect(error.code).toBe('slack_webapi_rate_limited_error');
    expect(error.retryAfter).toBe(7);
    expect(fake.messages()).toEqual([]);
    expect(lastCall()).toMatchObject({ method: 'chat.postMessage', status: 429, ok: false, error: 'ratelimited' });
    await client.chat.postMessage({ channel: 'ops', text: 'x' });
    expect(fake.messages()).toHaveLength(1);
  });

  it('answers an HTTP status for http faults, `count` times', async () => {
    fake.failNext('chat.postMessage', 2, { kind: 'http', status: 502 });
    for (let i = 0; i < 2; i++) {
      const error = await failure(client.chat.postMessage({ channel: 'ops', text: 'x' }));
      expect(error.code).toBe('slack_webapi_http_error');
      expect(error.statusCode).toBe(502);
    }
    expect(fake.calls.map((c) => [c.status, c.error])).toEqual([
      [502, 'http_502'],
      [502, 'http_502'],
    ]);
    await client.chat.postMessage({ channel: 'ops', text: 'x' });
    expect(fake.messages()).toHaveLength(1);
  });

  it('answers ok:false for error faults, on any method with *', async () => {
    fake.failNext('*', 1, { kind: 'error', error: 'internal_error' });
    expect((await platformError(client.conversations.history({ channel: 'ops' }))).error).toBe('internal_error');
    // Only the next call of that method is affected.
    fake.failNext('chat.update', 1, { kind: 'error', error: 'cant_update_message' });
    await client.chat.postMessage({ channel: 'ops', text: 'x' });
    expect((await platformError(client.chat.update({ channel: 'ops', ts: fake.messages()[0]!.ts, text: 'y' }))).error).toBe('cant_update_message');
    expect(fake.messages()[0]).toMatchObject({ text: 'x', edits: 0 });
  });

  it('answers 503 to everything during an outage', async () => {
    fake.setOutage(true);
    const error = await failure(client.chat.postMessage({ channel: 'ops', text: 'x' }));
    expect(error.code).toBe('slack_webapi_http_error');
    expect(error.statusCode).toBe(503);
    expect((await failure(client.conversations.history({ channel: 'ops' }))).statusCode).toBe(503);
    expect(fake.messages()).toEqual([]);
    fake.setOutage(false);
    await client.chat.postMessage({ channel: 'ops', text: 'x' });
    expect(fake.calls.map((c) => c.status)).toEqual([503, 503, 200]);
  });

  it('stores the message before a delayed answer', async () => {
    fake.delayNextResponse('chat.postMessage', 300);
    let settled = false;
    const pending = client.chat.postMessage({ channel: 'deploys', text: 'slow' }).finally(() => {
      settled = true;
    });
    await vi.waitFor(() => expect(fake.messages('deploys')).toHaveLength(1), { timeout: 1000, interval: 5 });
    expect(settled).toBe(false);
    const result = await pending;
    expect(result.ts).toBe(fake.messages('deploys')[0]!.ts);

    // A client that gives up while waiting: the message is posted all the same.
    fake.delayNextResponse('chat.postMessage', 300);
    const error = await failure(clientWith(fake.token, { timeout: 50 }).chat.postMessage({ channel: 'deploys', text: 'lost answer' }));
    expect(error.code).toBe('slack_webapi_request_error');
    expect(fake.messages('deploys').map((m) => m.text)).toEqual(['slow', 'lost answer']);
  });
});

describe('fake Slack: file uploads', () => {
  it('takes the bytes and shares the file', async () => {
    const parent = await client.chat.postMessage({ channel: 'ops', text: 'incident' });
    const bytes = Buffer.from('line 1\nline 2\n');
    const url = await client.files.getUploadURLExternal({ filename: 'log.txt', length: bytes.length });
    expect(url.upload_url).toBe(`${fake.baseUrl}/upload/${url.file_id}`);
    expect(url.file_id).toMatch(/^F/);

    const uploaded = await fetch(url.upload_url!, { method: 'POST', body: bytes });
    expect(uploaded.status).toBe(200);
    expect(await uploaded.text()).toBe(`OK - ${bytes.length}`);

    const done = await client.files.completeUploadExternal({
      files: [{ id: url.file_id!, title: 'Build log' }],
      channel_id: 'C0OPS0001',
      thread_ts: parent.ts!,
      initial_comment: 'the log',
    });
    expect(done.files).toEqual([{ id: url.file_id, title: 'Build log' }]);
    expect(fake.uploads()).toEqual([
      {
        fileId: url.file_id,
        filename: 'log.txt',
        length: bytes.length,
        title: 'Build log',
        bytes,
        uploaded: true,
        channel: 'C0OPS0001',
        threadTs: parent.ts,
        initialComment: 'the log',
        completed: true,
      },
    ]);
    expect((await platformError(client.files.completeUploadExternal({ files: [{ id: 'F0NOPE' }] }))).error).toBe('file_not_found');
    expect(fake.callsOf('files.completeUploadExternal').map((c) => c.ok)).toEqual([true, false]);
  });

  it('works with the client’s own multipart upload (filesUploadV2)', async () => {
    await client.filesUploadV2({ channel_id: 'C0ALERTS01', filename: 'report.csv', content: 'a,b\n1,2\n', title: 'Report' });
    const [upload] = fake.uploads();
    expect(upload).toMatchObject({ filename: 'report.csv', title: 'Report', channel: 'C0ALERTS01', completed: true });
    expect(upload?.bytes.toString()).toBe('a,b\n1,2\n');
  });

  it('reset clears calls, messages and uploads but keeps channels', async () => {
    await client.chat.postMessage({ channel: 'ops', text: 'x' });
    await client.files.getUploadURLExternal({ filename: 'a', length: 1 });
    fake.failNext('*', 5, { kind: 'http', status: 500 });
    fake.reset();
    expect(fake.calls).toEqual([]);
    expect(fake.messages()).toEqual([]);
    expect(fake.uploads()).toEqual([]);
    await client.chat.postMessage({ channel: '#ops', text: 'after reset' });
    expect(fake.messages('ops')).toHaveLength(1);
  });
});
