import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

const SIGNING_SECRET = 'slack-signing-secret-for-tests';
const METRICS_TOKEN = 'metrics-token-for-tests';

let stack: TestStack;
let integration: { id: string; secret: string };

beforeAll(async () => {
  stack = await startTestStack({ config: { SLACK_SIGNING_SECRET: SIGNING_SECRET, METRICS_TOKEN } });
  integration = await createIntegration(stack, ['replayed-app']);
});
afterAll(async () => stack?.stop());

const noRedirect = (path: string, init: RequestInit = {}) => fetch(`${stack.url}${path}`, { ...init, redirect: 'manual' });
const signIn = (next: string) =>
  noRedirect('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: ADMIN_TOKEN, next }).toString() });

const HOSTILE = [
  '/\\evil.example/x',
  '/\\evil.example',
  '\\\\evil.example',
  '//evil.example',
  '//evil.example/incidents',
  '///evil.example',
  '/%5Cevil.example',
  '/%2F/evil.example',
  '/\t/evil.example',
  '/\n/evil.example',
  '/\\/evil.example',
  '/.//evil.example',
  '/incidents/..//evil.example',
  'https://evil.example',
  'https://evil.example/incidents',
  'http://pulsebridge.test.evil.example/',
  'javascript:alert(1)',
  'data:text/html,hi',
  '',
];

describe('sign-in redirects', () => {
  it('go only to same-origin paths: every hostile next lands on this site', async () => {
    for (const next of HOSTILE) {
      const response = await signIn(next);
      expect(response.status, JSON.stringify(next)).toBe(303);
      const location = response.headers.get('location')!;
      // What the browser follows: resolved against our own address, it must stay here.
      expect(new URL(location, stack.url).origin, `${JSON.stringify(next)} -> ${location}`).toBe(new URL(stack.url).origin);
      expect(location, JSON.stringify(next)).toMatch(/^\/(?![/\\])/);
    }
    // The classic one goes to the default page.
    expect((await signIn('/\\evil.example/x')).headers.get('location')).toBe('/incidents');
  });

  it('keep a same-origin next, including one given as a full URL of PUBLIC_URL', async () => {
    expect((await signIn('/events?status=failed')).headers.get('location')).toBe('/events?status=failed');
    expect((await signIn('http://pulsebridge.test/deploys?app=x')).headers.get('location')).toBe('/deploys?app=x');
  });

  it('the sign-in form never carries a hostile next', async () => {
    const html = await (await noRedirect(`/login?next=${encodeURIComponent('/\\evil.example/x')}`)).text();
    expect(html).toContain('name="next" value="/incidents"');
    const kept = await (await noRedirect(`/login?next=${encodeURIComponent('/events?status=failed')}`)).text();
    expect(kept).toContain('name="next" value="/events?status=failed"');
  });
});

describe('security headers on UI pages', () => {
  it('sign-in, assets, signed-in pages and the redirect to sign-in carry CSP, nosniff, framing and referrer headers', async () => {
    const cookie = (await signIn('/incidents')).headers.get('set-cookie')!.split(';')[0]!;
    const pages = [
      await noRedirect('/login'),
      await noRedirect('/assets/app.js'),
      await noRedirect('/incidents'),
      await noRedirect('/incidents', { headers: { cookie } }),
      await noRedirect(`/integrations/${integration.id}`, { headers: { cookie } }),
    ];
    expect(pages.map((p) => p.status)).toEqual([200, 200, 303, 200, 200]);
    for (const page of pages) {
      const csp = page.headers.get('content-security-policy')!;
      const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
      expect(directives['script-src'], page.url).toEqual(["'self'"]);
      expect(directives['script-src-attr']).toEqual(["'none'"]);
      expect(directives['default-src']).toEqual(["'self'"]);
      expect(directives['frame-ancestors']).toEqual(["'none'"]);
      expect(directives['object-src']).toEqual(["'none'"]);
      // "Connect with Heroku" is redirected on to Heroku's OAuth host (HEROKU_ID_URL).
      expect(directives['form-action']).toEqual(["'self'", 'http://127.0.0.1:9']);
      // Served over plain HTTP (PUBLIC_URL http://...), nothing can be upgraded.
      expect(directives['upgrade-insecure-requests']).toBeUndefined();
      expect(csp).not.toContain('unsafe-inline');
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('strict-transport-security')).toBeNull();
    }
  });
});

describe('/metrics with METRICS_TOKEN set', () => {
  it('refuses a scrape without the token or with a wrong one, and serves it with the token', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}`, METRICS_TOKEN, `Bearer ${METRICS_TOKEN}x`]) {
      const response = await fetch(`${stack.url}/metrics`, { headers: authorization === undefined ? {} : { authorization } });
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await response.json()) as { error: unknown }).error).toMatchObject({ code: 'unauthorized', requestId: expect.any(String) });
    }
    const response = await fetch(`${stack.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/pulsebridge_ingress_requests_total/);
    // Health checks stay open.
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
  });
});

describe('Slack interactions', () => {
  const signed = (actionId: string, incidentId: string, timestamp = Math.floor(Date.now() / 1000)) => {
    const payload = JSON.stringify({ type: 'block_actions', user: { id: 'U42', name: 'dana' }, actions: [{ action_id: actionId, value: incidentId }], trigger_id: randomUUID() });
    const body = `payload=${encodeURIComponent(payload)}`;
    const signature = `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    return { body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature } };
  };
  const send = (request: { body: string; headers: Record<string, string> }, extra: Record<string, string> = {}) =>
    fetch(`${stack.url}/slack/interactions`, { method: 'POST', headers: { ...request.headers, ...extra }, body: request.body });
  const timeline = async (incidentId: string) => (await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body.timeline.map((entry: { kind: string }) => entry.kind);

  it('a replayed signed request is refused; a Slack retry of it is answered 200; the action happens once', async () => {
    stack.startWorker();
    const id = randomUUID();
    const crash = { id, data: { app: { name: 'replayed-app' }, name: 'web.1', state: 'crashed', management: 'formation', exit_status: 1 }, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } };
    expect((await postWebhook(stack, integration.id, JSON.stringify(crash), { secret: integration.secret })).status).toBe(202);
    const incidentId = await waitFor(async () => (await stack.call('GET', '/api/v1/incidents?appName=replayed-app')).body.items[0]?.id as string | undefined, { what: 'the incident' });

    const acknowledge = signed('incident_acknowledge', incidentId);
    expect((await send(acknowledge)).status).toBe(200);
    expect((await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body.status).toBe('acknowledged');

    const replay = await send(acknowledge);
    expect(replay.status).toBe(409);
    expect(((await replay.json()) as { error: unknown }).error).toMatchObject({ code: 'replayed' });
    expect((await send(acknowledge, { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' })).status).toBe(200);
    expect((await timeline(incidentId)).filter((kind: string) => kind === 'acknowledged')).toHaveLength(1);

    // A new click (its own timestamp and signature) still acts, even when it is a first retry.
    const resolve = signed('incident_resolve', incidentId, Math.floor(Date.now() / 1000) - 1);
    expect((await send(resolve, { 'x-slack-retry-num': '1' })).status).toBe(200);
    expect((await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body.status).toBe('resolved');
    expect((await send(resolve)).status).toBe(409);
    expect((await timeline(incidentId)).filter((kind: string) => kind === 'resolved')).toHaveLength(1);
  });

  it('a Slack retry that arrives while the first request is still being acted on gets 503, then acts if that request failed', async () => {
    stack.startWorker();
    const id = randomUUID();
    const crash = { id, data: { app: { name: 'replayed-app' }, name: 'worker.7', state: 'crashed', management: 'formation', exit_status: 1 }, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } };
    expect((await postWebhook(stack, integration.id, JSON.stringify(crash), { secret: integration.secret })).status).toBe(202);
    const incidentId = await waitFor(async () => (await stack.sql("SELECT id FROM incidents WHERE dedup_key LIKE '%worker.7%'"))[0]?.id as string | undefined, { what: 'the incident' });
    const acknowledge = signed('incident_acknowledge', incidentId);
    const key = `${stack.config.queuePrefix}:slack-request:${acknowledge.headers['x-slack-signature']}`;
    // Another API process has taken the request and is still acting on it.
    await stack.runtime.redis.set(key, 'pending', 'EX', 300);
    const early = await send(acknowledge, { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' });
    expect(early.status).toBe(503);
    expect(((await early.json()) as { error: unknown }).error).toMatchObject({ code: 'in_progress' });
    expect((await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body.status).toBe('triggered');
    // That process failed (a 5xx forgets the request): the next retry acts, once.
    await stack.runtime.redis.del(key);
    expect((await send(acknowledge, { 'x-slack-retry-num': '2', 'x-slack-retry-reason': 'http_error' })).status).toBe(200);
    expect((await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body.status).toBe('acknowledged');
    await waitFor(async () => (await stack.runtime.redis.get(key)) === 'done' || undefined, { what: 'the request recorded as done' });
    expect((await send(acknowledge, { 'x-slack-retry-num': '3' })).status).toBe(200);
    expect((await timeline(incidentId)).filter((kind: string) => kind === 'acknowledged')).toHaveLength(1);
  });

  it('remembers a signature in Redis only as long as it could pass the five-minute check', async () => {
    const request = signed('incident_acknowledge', randomUUID(), Math.floor(Date.now() / 1000) - 240);
    expect((await send(request)).status).toBe(200);
    const key = `${stack.config.queuePrefix}:slack-request:${request.headers['x-slack-signature']}`;
    const ttl = await stack.runtime.redis.pttl(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(62_000);
  });
});
