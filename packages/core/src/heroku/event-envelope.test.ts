import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, parseAddonNotification, parseHerokuWebhookEvent, unstorableJson } from './event-envelope.js';
import { legacyFixtures, webhookFixtures } from '../../../../test/support/fixtures.js';

describe('parseHerokuWebhookEvent over every reference payload', () => {
  it.each(webhookFixtures().map((f) => [f.name, f] as const))('%s', (_name, fixture) => {
    const result = parseHerokuWebhookEvent(fixture.json);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { json } = fixture;
    expect(result.value).toEqual({
      eventId: json.id,
      deliveryId: json.webhook_metadata?.delivery?.id ?? null,
      source: 'heroku_webhook',
      resource: json.resource ?? 'dyno',
      entity: json.webhook_metadata?.event?.include ?? `api:${json.resource}`,
      action: json.action ?? null,
      appName: json.data.app?.name ?? json.data.name,
      occurredAt: new Date(json.updated_at ?? json.created_at),
    });
  });
});

describe('parseHerokuWebhookEvent edge cases', () => {
  const cases: [string, unknown, Record<string, unknown> | string][] = [
    ['dyno event without webhook_metadata', { id: 'e1', data: { app: { name: 'a' }, name: 'web.1', state: 'crashed' }, created_at: '2026-01-01T00:00:00Z' }, { resource: 'dyno', entity: 'dyno', action: null, deliveryId: null }],
    ['api:dyno keeps its include', { id: 'e2', resource: 'dyno', action: 'create', data: { name: 'run.1', state: 'up' }, webhook_metadata: { event: { include: 'api:dyno' } } }, { resource: 'dyno', entity: 'api:dyno', action: 'create' }],
    ['api:app takes its own name', { id: 'e3', resource: 'app', action: 'update', data: { name: 'my-app' } }, { appName: 'my-app' }],
    ['unparseable time is null', { id: 'e4', resource: 'build', data: {}, created_at: 'yesterday' }, { occurredAt: null }],
    ['not an object', [1], 'not a JSON object'],
    ['no id', { resource: 'build', data: {} }, 'no event `id`'],
    ['no data', { id: 'x', resource: 'build' }, 'no `data` object'],
    ['no resource at all', { id: 'x', data: { foo: 1 } }, 'names no resource'],
  ];
  it.each(cases)('%s', (_name, body, expected) => {
    const result = parseHerokuWebhookEvent(body);
    if (typeof expected === 'string') {
      expect(result).toEqual({ ok: false, message: expect.stringContaining(expected) });
    } else {
      expect(result.ok && result.value).toMatchObject(expected);
    }
  });
});

describe('parseAddonNotification', () => {
  const legacy = legacyFixtures();
  it('reads the app of each legacy event and keys retries of one body together', () => {
    const raw = (body: unknown) => Buffer.from(JSON.stringify(body));
    const deploy = parseAddonNotification('res-1', raw(legacy.deploy), legacy.deploy);
    const attach = parseAddonNotification('res-1', raw(legacy.attach), legacy.attach);
    expect(deploy.ok && deploy.value).toMatchObject({ resource: 'deploy', entity: 'addon:deploy', appName: 'deploying-furiously-42', source: 'heroku_addon' });
    expect(attach.ok && attach.value).toMatchObject({ resource: 'attach', appName: 'example' });
    const again = parseAddonNotification('res-1', raw(legacy.deploy), legacy.deploy);
    const otherResource = parseAddonNotification('res-2', raw(legacy.deploy), legacy.deploy);
    expect(deploy.ok && again.ok && deploy.value.eventId === again.value.eventId).toBe(true);
    expect(deploy.ok && otherResource.ok && deploy.value.eventId !== otherResource.value.eventId).toBe(true);
  });

  it('refuses unknown events and missing detail', () => {
    expect(parseAddonNotification('r', Buffer.from('{}'), { event: 'boom', detail: {} })).toEqual({ ok: false, message: expect.stringContaining('deploy, attach, detach') });
    expect(parseAddonNotification('r', Buffer.from('{}'), { event: 'deploy' })).toEqual({ ok: false, message: expect.stringContaining('detail') });
  });
});

describe('event times stay within a sane range', () => {
  const receivedAt = new Date('2026-12-06T12:00:00Z');
  const at = (createdAt: string) => {
    const result = parseHerokuWebhookEvent({ id: 'e', resource: 'build', data: {}, created_at: createdAt }, receivedAt);
    return result.ok ? result.value.occurredAt : 'refused';
  };
  it.each([
    ['a recent time', '2026-12-06T11:59:00Z', new Date('2026-12-06T11:59:00Z')],
    ['an old fixture time', '2012-01-01T12:00:00Z', new Date('2012-01-01T12:00:00Z')],
    ['a little clock skew ahead', '2026-12-06T12:05:00Z', new Date('2026-12-06T12:05:00Z')],
    ['year 0', '0000-01-01T00:00:00Z', receivedAt],
    ['year 10000', '+010000-01-01T00:00:00Z', receivedAt],
    ['the 1990s', '1999-12-31T23:59:59Z', receivedAt],
    ['next week', '2026-12-13T12:00:00Z', receivedAt],
  ])('%s', (_name, createdAt, expected) => {
    expect(at(createdAt)).toEqual(expected);
  });
});

describe('fields PostgreSQL would refuse are refused up front', () => {
  it('overlong indexed names', () => {
    const long = 'x'.repeat(101);
    expect(parseHerokuWebhookEvent({ id: 'e', resource: long, data: {} })).toEqual({ ok: false, message: expect.stringContaining('`resource` is longer than 100') });
    expect(parseHerokuWebhookEvent({ id: 'e', data: {}, webhook_metadata: { event: { include: long } } })).toEqual({ ok: false, message: expect.stringContaining('include` is longer') });
    expect(parseHerokuWebhookEvent({ id: 'e', resource: 'build', data: { app: { name: long } } })).toEqual({ ok: false, message: expect.stringContaining('app name') });
    expect(parseAddonNotification('r', Buffer.from('{}'), { event: 'deploy', detail: { app: long } })).toEqual({ ok: false, message: expect.stringContaining('app name') });
  });

  it('JSON nested too deep or holding a NUL character, however deep (no recursion)', () => {
    const nest = (depth: number) => JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`);
    expect(unstorableJson({ data: { app: { name: 'a' } }, list: [1, 'two', null, { three: true }] })).toBeNull();
    expect(unstorableJson(nest(MAX_JSON_DEPTH))).toBeNull();
    expect(unstorableJson(nest(MAX_JSON_DEPTH + 1))).toMatch(/nests deeper/);
    expect(unstorableJson(nest(200_000))).toMatch(/nests deeper/);
    expect(unstorableJson({ a: ['x\u0000y'] })).toMatch(/NUL/);
    expect(unstorableJson({ 'k\u0000': 1 })).toMatch(/NUL/);
  });
});
