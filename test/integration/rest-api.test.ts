import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, postWebhook, startTestStack, type TestStack } from '../support/stack.js';

let stack: TestStack;
let responder: string;

beforeAll(async () => {
  stack = await startTestStack();
  const created = await stack.call('POST', '/api/v1/tokens', { body: { name: 'on-call', role: 'responder' } });
  responder = created.body.token;
});
afterAll(async () => stack?.stop());

describe('authentication and roles', () => {
  it('401 without a token or with an unknown one, in the error shape', async () => {
    for (const token of [null, 'nope-not-a-token', '']) {
      const response = await stack.call('GET', '/api/v1/events', { token });
      expect(response.status).toBe(401);
      expect(response.body.error).toMatchObject({ code: 'unauthorized', message: expect.any(String), requestId: expect.any(String) });
    }
  });

  it('a responder may read the archive and services but not administer', async () => {
    expect((await stack.call('GET', '/api/v1/events', { token: responder })).status).toBe(200);
    expect((await stack.call('GET', '/api/v1/services', { token: responder })).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/api/v1/services', { name: 'x' }],
      ['POST', '/api/v1/integrations/heroku', { name: 'x', monitoredApps: [] }],
      ['POST', '/api/v1/tokens', { name: 'x', role: 'admin' }],
      ['POST', `/api/v1/events/${randomUUID()}/replay`, undefined],
    ] as const) {
      const response = await stack.call(method, path, { token: responder, body });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(response.body.error.code).toBe('forbidden');
    }
  });

  it('tokens are shown once, stored hashed, listed without values, and stop working when revoked', async () => {
    const created = await stack.call('POST', '/api/v1/tokens', { body: { name: 'temp admin', role: 'admin' } });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^pb_[A-Za-z0-9_-]{43}$/);
    const stored = await stack.sql('SELECT token_hash FROM api_tokens WHERE id = $1', [created.body.id]);
    expect(stored[0].token_hash).not.toContain(created.body.token);
    expect((await stack.call('GET', '/api/v1/services', { token: created.body.token })).status).toBe(200);

    const list = await stack.call('GET', '/api/v1/tokens');
    expect(JSON.stringify(list.body)).not.toContain(created.body.token);
    expect(list.body.items.find((t: { id: string }) => t.id === created.body.id).lastUsedAt).not.toBeNull();

    expect((await stack.call('DELETE', `/api/v1/tokens/${created.body.id}`)).status).toBe(204);
    expect((await stack.call('GET', '/api/v1/services', { token: created.body.token })).status).toBe(401);
  });
});

describe('services', () => {
  it('create, read, update, delete', async () => {
    const created = await stack.call('POST', '/api/v1/services', {
      body: { name: 'checkout', herokuAppNames: ['checkout-web', 'checkout-web', 'checkout-worker'], slackChannels: ['#ops'] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'checkout', herokuAppNames: ['checkout-web', 'checkout-worker'], slackChannels: ['#ops'] });
    expect(new Date(created.body.createdAt).toISOString()).toBe(created.body.createdAt);

    const id = created.body.id;
    expect((await stack.call('GET', `/api/v1/services/${id}`)).body).toEqual(created.body);
    const patched = await stack.call('PATCH', `/api/v1/services/${id}`, { body: { slackChannels: ['C0123ABC'] } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'checkout', herokuAppNames: ['checkout-web', 'checkout-worker'], slackChannels: ['C0123ABC'] });

    expect((await stack.call('DELETE', `/api/v1/services/${id}`)).status).toBe(204);
    expect((await stack.call('GET', `/api/v1/services/${id}`)).status).toBe(404);
    expect((await stack.call('DELETE', `/api/v1/services/${id}`)).status).toBe(404);
  });

  it('clear errors for bad input', async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /name/],
      [{ name: '' }, /name/],
      [{ name: 'x', herokuAppNames: 'app' }, /herokuAppNames/],
      [{ name: 'x', slackChannels: ['<!channel>'] }, /slackChannels/],
    ];
    for (const [body, message] of cases) {
      const response = await stack.call('POST', '/api/v1/services', { body });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('validation_failed');
      expect(response.body.error.message).toMatch(message);
      expect(response.body.error.issues.length).toBeGreaterThan(0);
    }
    const raw = await fetch(`${stack.url}/api/v1/services`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as any).error.code).toBe('invalid_json');
    expect((await stack.call('GET', '/api/v1/services/not-a-uuid')).status).toBe(400);
    expect((await stack.call('GET', `/api/v1/services/${randomUUID()}`)).status).toBe(404);
  });

  it('409 for a duplicate name', async () => {
    expect((await stack.call('POST', '/api/v1/services', { body: { name: 'billing' } })).status).toBe(201);
    const again = await stack.call('POST', '/api/v1/services', { body: { name: 'billing' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
  });

  it('lists newest first with cursor pagination', async () => {
    const names = Array.from({ length: 5 }, (_, i) => `paged-${i}`);
    for (const name of names) await stack.call('POST', '/api/v1/services', { body: { name } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { name: string }[]; nextCursor: string | null } } = await stack.call('GET', `/api/v1/services?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((s) => s.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    const paged = seen.filter((name) => name.startsWith('paged-'));
    expect(paged).toEqual([...names].reverse());
    expect(new Set(seen).size).toBe(seen.length);
    expect((await stack.call('GET', '/api/v1/services?limit=500')).status).toBe(400);
    expect((await stack.call('GET', '/api/v1/services?cursor=garbage')).status).toBe(400);
  });
});

describe('Heroku integrations', () => {
  it('create returns the webhook URL and secret once; reads never show secret or token', async () => {
    const created = await stack.call('POST', '/api/v1/integrations/heroku', { body: { name: 'prod', monitoredApps: ['shop-web'], apiToken: 'heroku-api-token-value' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'prod',
      monitoredApps: ['shop-web'],
      webhookUrl: `http://pulsebridge.test/webhooks/heroku/${created.body.id}`,
      secret: expect.stringMatching(/^[0-9a-f]{64}$/),
      // Heroku cannot be reached from this test: the app's webhook is recorded as failed, with why.
      managedWebhooks: [{ appName: 'shop-web', webhookId: null, state: 'failed', error: expect.stringMatching(/^Heroku: Heroku API unreachable/) }],
      hasApiToken: true,
      connection: 'api_token',
    });
    const shown = await stack.call('GET', `/api/v1/integrations/heroku/${created.body.id}`);
    const listed = await stack.call('GET', '/api/v1/integrations/heroku');
    for (const text of [JSON.stringify(shown.body), JSON.stringify(listed.body)]) {
      expect(text).not.toContain(created.body.secret);
      expect(text).not.toContain('heroku-api-token-value');
    }
    const [row] = await stack.sql('SELECT secret_ciphertext, api_token_ciphertext FROM heroku_integrations WHERE id = $1', [created.body.id]);
    expect(row.secret_ciphertext).not.toContain(created.body.secret);
    expect(row.api_token_ciphertext).not.toContain('heroku-api-token-value');
  });

  it('rotating the secret refuses deliveries signed with the old one', async () => {
    const created = await stack.call('POST', '/api/v1/integrations/heroku', { body: { name: 'rotating', monitoredApps: ['shop-web'] } });
    const body = () => JSON.stringify({ id: randomUUID(), resource: 'build', action: 'create', data: { app: { name: 'shop-web' } } });
    expect((await postWebhook(stack, created.body.id, body(), { secret: created.body.secret })).status).toBe(202);
    const rotated = await stack.call('POST', `/api/v1/integrations/heroku/${created.body.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    expect((await postWebhook(stack, created.body.id, body(), { secret: created.body.secret })).status).toBe(401);
    expect((await postWebhook(stack, created.body.id, body(), { secret: rotated.body.secret })).status).toBe(202);
  });

  it('PATCH changes monitored apps; DELETE removes it and its webhook URL stops working', async () => {
    const created = await stack.call('POST', '/api/v1/integrations/heroku', { body: { name: 'temp', monitoredApps: [] } });
    const patched = await stack.call('PATCH', `/api/v1/integrations/heroku/${created.body.id}`, { body: { monitoredApps: ['a-app', 'b-app'] } });
    expect(patched.body.monitoredApps).toEqual(['a-app', 'b-app']);
    expect((await stack.call('DELETE', `/api/v1/integrations/heroku/${created.body.id}`)).status).toBe(204);
    const body = JSON.stringify({ id: randomUUID(), resource: 'build', data: {} });
    expect((await postWebhook(stack, created.body.id, body, { secret: created.body.secret })).status).toBe(404);
  });
});

describe('event archive', () => {
  it('lists with filters and shows one event with its payload', async () => {
    const integration = await stack.call('POST', '/api/v1/integrations/heroku', { body: { name: 'archive', monitoredApps: ['arch-app'] } });
    const release = { id: randomUUID(), resource: 'release', action: 'create', data: { app: { name: 'arch-app' }, version: 7 } };
    const dyno = { id: randomUUID(), data: { app: { name: 'arch-app' }, name: 'web.1', state: 'crashed' }, webhook_metadata: { event: { include: 'dyno' } } };
    for (const event of [release, dyno]) {
      expect((await postWebhook(stack, integration.body.id, JSON.stringify(event), { secret: integration.body.secret })).status).toBe(202);
    }
    const releases = await stack.call('GET', `/api/v1/events?resource=release&integrationId=${integration.body.id}`, { token: responder });
    expect(releases.body.items.map((e: { eventId: string }) => e.eventId)).toEqual([release.id]);
    expect(releases.body.items[0]).not.toHaveProperty('payload');
    const all = await stack.call('GET', `/api/v1/events?integrationId=${integration.body.id}`);
    expect(all.body.items.map((e: { eventId: string }) => e.eventId)).toEqual([dyno.id, release.id]);
    expect(all.body.items[0]).toMatchObject({ resource: 'dyno', entity: 'dyno', action: null, appName: 'arch-app', status: 'received' });

    const shown = await stack.call('GET', `/api/v1/events/${all.body.items[0].id}`, { token: responder });
    expect(shown.body.payload).toEqual(dyno);
    expect((await stack.call('GET', '/api/v1/events?status=bogus')).status).toBe(400);
    expect((await stack.call('GET', `/api/v1/events/${randomUUID()}`)).status).toBe(404);
  });
});

describe('OpenAPI, health and metrics', () => {
  it('serves an OpenAPI 3 document generated from the request schemas', async () => {
    const response = await fetch(`${stack.url}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as any;
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/api/v1/services', '/api/v1/services/{id}', '/api/v1/integrations/heroku', '/api/v1/integrations/heroku/{id}/rotate-secret', '/api/v1/events', '/api/v1/events/{id}/replay', '/api/v1/tokens', '/api/v1/incidents', '/api/v1/incidents/{id}', '/api/v1/incidents/{id}/acknowledge', '/api/v1/incidents/{id}/resolve', '/api/v1/pulses']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    const create = doc.paths['/api/v1/services'].post;
    const schema = create.requestBody.content['application/json'].schema;
    expect(schema.required).toContain('name');
    expect(Object.keys(schema.properties)).toEqual(['name', 'herokuAppNames', 'slackChannels', 'postPulses', 'postMinSeverity']);
    expect(doc.paths['/api/v1/events'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['status', 'resource', 'limit', 'cursor']));
    // The endpoints that take no bearer token are described too, with the authentication they use.
    const webhook = doc.paths['/webhooks/heroku/{integrationId}'].post;
    expect(webhook.security).toEqual([{ herokuSignature: [] }]);
    expect(Object.keys(webhook.responses).sort()).toEqual(['202', '400', '401', '404', '413', '503']);
    expect(doc.components.securitySchemes.herokuSignature).toMatchObject({ type: 'apiKey', in: 'header', name: 'Heroku-Webhook-Hmac-SHA256' });
    expect(doc.paths['/heroku/resources/{resourceId}/events'].post.security).toEqual([{ addonBasic: [] }]);
    expect(Object.keys(doc.paths['/slack/interactions'].post.responses).sort()).toEqual(['200', '400', '401', '404', '409', '503']);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect(doc.paths[path]?.get, path).toBeDefined();
  });

  it('/healthz, /readyz and /metrics', async () => {
    expect(await (await fetch(`${stack.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${stack.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/pulsebridge_ingress_requests_total\{endpoint="heroku_webhook",outcome="accepted",process="api"\} \d+/);
    expect(metrics).toMatch(/pulsebridge_queue_jobs\{queue="events",state="waiting",process="api"\} \d+/);
  });

  it('unknown routes answer 404 in the error shape, with the request id echoed', async () => {
    const response = await fetch(`${stack.url}/nope`, { headers: { 'x-request-id': 'req-123' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('req-123');
    expect(await response.json()).toEqual({ error: { code: 'not_found', message: 'no route for GET /nope', requestId: 'req-123' } });
  });
});
