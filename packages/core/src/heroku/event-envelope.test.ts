import { describe, expect, it } from 'vitest';
import { parseAddonNotification, parseHerokuWebhookEvent } from './event-envelope.js';
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
