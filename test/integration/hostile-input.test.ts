import { createHmac, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHerokuBody } from '@pulsebridge/core';
import { ADDON, ADMIN_TOKEN, createIntegration, signInUi, startTestStack, type TestStack, type UiSession } from '../support/stack.js';

/**
 * Every route family answers hostile input (bad percent-encoding, NUL bytes, ids that are not
 * UUIDs, garbage cursors and cookies, payloads of the wrong shape) with a 4xx, never a 5xx or a
 * crash. The REST part walks the OpenAPI document, so a new route is covered without a change here.
 */

const SLACK_SECRET = 'slack-signing-secret-for-hostile-tests';

let stack: TestStack;
let integration: { id: string; secret: string };
let ui: UiSession;

interface Answer {
  status: number;
  type: string;
  text: string;
}

/** node:http sends the request target byte for byte, unlike fetch, which would normalise it. */
function raw(method: string, target: string, options: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(stack.url);
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const req = request(
      { host: url.hostname, port: url.port, method, path: target, headers: { ...(body && { 'content-length': String(body.length) }), ...options.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A refusal: 4xx, and the error shape whenever the answer is JSON (HTML pages may answer an error page). */
function expectRefusal(answer: Answer, what: string, options: { json?: boolean } = {}) {
  expect(answer.status, `${what} -> ${answer.status} ${answer.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(answer.status, `${what} -> ${answer.status} ${answer.text.slice(0, 300)}`).toBeLessThan(500);
  if (options.json) expect(answer.type, what).toMatch(/^application\/json/);
  if (answer.type.startsWith('application/json')) {
    const body = JSON.parse(answer.text);
    expect(body, what).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
  }
}

async function expectAlive() {
  const health = await raw('GET', '/healthz');
  expect(health.status).toBe(200);
}

/** Path segments no route can decode: bad percent-encoding (truncated, not hex, not UTF-8) and NUL bytes. */
const MALFORMED_SEGMENTS = ['%E0%A4%A', '%', '%zz', '%FF', '%C0%AE', '%00', 'a%00b', `${randomUUID()}%00`];
/** Path segments that must never reach a uuid column as an id. */
const HOSTILE_SEGMENTS = [...MALFORMED_SEGMENTS, 'not-a-uuid', '1', '%20', `${'-'.repeat(36)}`, `${randomUUID()}x`];
/** Query values: bad percent-encoding and NUL bytes. */
const HOSTILE_VALUES = ['%E0%A4%A', '%', '%FF', '%00', 'a%00b'];
const b64 = (text: string) => Buffer.from(text).toString('base64url');
const at = '2026-01-01T00:00:00.000Z';
/** Cursors this API never returned. */
const GARBAGE_CURSORS = [
  'garbage',
  '!!!!',
  b64('x|y'),
  b64(`${at}|${'-'.repeat(36)}`),
  b64(`${at}|${'f'.repeat(36)}`),
  b64(`${at}|${randomUUID()}\u0000`),
  b64(`-271821-04-20T00:00:00.000Z|${randomUUID()}`),
  b64(`+275760-09-13T00:00:00.000Z|${randomUUID()}`),
  b64(`0|${randomUUID()}`),
  b64(`${at}|${randomUUID()}|extra`),
  '%00',
  '%E0%A4%A',
].map(encodeURIComponent);

beforeAll(async () => {
  stack = await startTestStack({ config: { SLACK_SIGNING_SECRET: SLACK_SECRET } });
  integration = await createIntegration(stack, ['hostile-app']);
  ui = await signInUi(stack);
});
afterAll(async () => stack?.stop());

describe('webhook and add-on ingress', () => {
  it('refuses hostile integration and resource ids, and bad request targets', async () => {
    const body = JSON.stringify({ id: randomUUID(), resource: 'build', action: 'update', data: { app: { name: 'hostile-app' } } });
    const signed = { 'content-type': 'application/json', 'heroku-webhook-hmac-sha256': signHerokuBody(integration.secret, body) };
    const basic = { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${ADDON.id}:${ADDON.password}`).toString('base64')}` };
    const addonBody = JSON.stringify({ heroku_id: 'app123@heroku.com', event: 'deploy', detail: {} });
    for (const segment of HOSTILE_SEGMENTS) {
      expectRefusal(await raw('POST', `/webhooks/heroku/${segment}`, { headers: signed, body }), `webhook ${segment}`, { json: true });
    }
    // Add-on resource ids are Heroku's and need not be UUIDs; they must still decode.
    for (const segment of MALFORMED_SEGMENTS) {
      expectRefusal(await raw('POST', `/heroku/resources/${segment}/events`, { headers: basic, body: addonBody }), `add-on ${segment}`, { json: true });
    }
    for (const value of HOSTILE_VALUES) {
      expectRefusal(await raw('POST', `/webhooks/heroku/${integration.id}?x=${value}`, { headers: signed, body }), `webhook ?x=${value}`, { json: true });
      expectRefusal(await raw('POST', `/heroku/resources/${value}/events?x=${value}`, { headers: basic, body: addonBody }), `add-on ?x=${value}`, { json: true });
    }
    await expectAlive();
  });

  it('refuses hostile integration ids, app names and tokens in drain URLs, and hostile query strings', async () => {
    const { body: detail } = await stack.call('GET', `/api/v1/integrations/heroku/${integration.id}`);
    const [, , , id, app, token] = new URL(detail.drainUrls[0].url).pathname.split('/') as string[];
    const headers = { 'content-type': 'application/logplex-1' };
    const lines = '70 <158>1 2026-12-06T10:00:00+00:00 host heroku router - at=info status=200\n';
    for (const segment of HOSTILE_SEGMENTS) {
      for (const path of [`/drains/heroku/${segment}/${app}/${token}`, `/drains/heroku/${id}/${segment}/${token}`, `/drains/heroku/${id}/${app}/${segment}`]) {
        expectRefusal(await raw('POST', path, { headers, body: lines }), `drain ${path}`, { json: true });
      }
    }
    for (const value of HOSTILE_VALUES) expect((await raw('POST', `/drains/heroku/${id}/${app}/${token}?x=${value}`, { headers, body: lines })).status, `drain ?x=${value}`).toBeLessThan(500);
    await expectAlive();
  });
});

describe('REST API, every route in the OpenAPI document', () => {
  interface Operation {
    method: string;
    path: string;
    pathParams: string[];
    queryParams: string[];
    hasBody: boolean;
  }
  let operations: Operation[];

  beforeAll(async () => {
    const document = JSON.parse((await raw('GET', '/api/v1/openapi.json')).text) as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; requestBody?: unknown }>>;
    };
    // The REST API's operations; the webhook, Slack and health endpoints it also describes are walked below.
    operations = Object.entries(document.paths).filter(([path]) => path.startsWith('/api/v1/')).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase(),
        path,
        pathParams: (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        hasBody: operation.requestBody !== undefined,
      })),
    );
    // The walk below is only as good as the document it walks.
    expect(operations.length).toBeGreaterThan(20);
    expect(operations.filter((o) => o.queryParams.includes('cursor')).length).toBeGreaterThan(4);
  });

  const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const fill = (operation: Operation, values: Record<string, string> = {}) =>
    operation.path.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? randomUUID());
  const bodyFor = (operation: Operation) => (operation.hasBody ? '{}' : undefined);

  it('refuses hostile path parameters', async () => {
    for (const operation of operations) {
      for (const param of operation.pathParams) {
        for (const segment of HOSTILE_SEGMENTS) {
          const target = fill(operation, { [param]: segment });
          expectRefusal(await raw(operation.method, target, { headers: auth, body: bodyFor(operation) }), `${operation.method} ${target}`, { json: true });
        }
      }
    }
    await expectAlive();
  });

  it('refuses hostile query values and garbage cursors', async () => {
    for (const operation of operations) {
      for (const param of operation.queryParams) {
        const values = param === 'cursor' ? [...HOSTILE_VALUES, ...GARBAGE_CURSORS] : HOSTILE_VALUES;
        for (const value of values) {
          const target = `${fill(operation)}?${param}=${value}`;
          expectRefusal(await raw(operation.method, target, { headers: auth, body: bodyFor(operation) }), `${operation.method} ${target}`, { json: true });
        }
      }
      // A parameter no route declares is no way in either.
      const target = `${fill(operation)}?unknown=%E0%A4%A&also=%00`;
      expectRefusal(await raw(operation.method, target, { headers: auth, body: bodyFor(operation) }), `${operation.method} ${target}`, { json: true });
    }
    await expectAlive();
  });

  it('refuses bodies of the wrong shape and strings PostgreSQL cannot store', async () => {
    const nul = 'x\u0000y';
    const hostileBodies = [
      'null',
      '[]',
      '"text"',
      '42',
      '{"unterminated": ',
      JSON.stringify({ name: nul, herokuAppNames: [nul], slackChannels: [], monitoredApps: [nul], role: 'responder', command: `echo ${nul}`, appName: nul }),
      JSON.stringify({ name: nul, role: 'responder', monitoredApps: [] }),
      JSON.stringify({ name: nul }),
    ];
    for (const operation of operations.filter((o) => o.hasBody)) {
      for (const body of hostileBodies) {
        const target = fill(operation);
        expectRefusal(await raw(operation.method, target, { headers: auth, body }), `${operation.method} ${target} ${body}`, { json: true });
      }
    }
    await expectAlive();
  });

  it('refuses hostile input before authentication too', async () => {
    for (const operation of operations) {
      const target = fill(operation, Object.fromEntries(operation.pathParams.map((p) => [p, '%E0%A4%A'])));
      expectRefusal(await raw(operation.method, `${target}?x=%00`), `${operation.method} ${target} without a token`, { json: true });
    }
    expectRefusal(await raw('GET', '/api/v1/%E0%A4%A'), 'unknown API path', { json: true });
    await expectAlive();
  });
});

describe('web UI', () => {
  const form = (fields: Record<string, string> = {}) => new URLSearchParams({ _csrf: ui.csrf, ...fields }).toString();
  const pages = (id: string) => [
    ['GET', `/incidents/${id}`],
    ['POST', `/incidents/${id}/acknowledge`],
    ['POST', `/incidents/${id}/resolve`],
    ['POST', `/incidents/${id}/run`],
    ['GET', `/events/${id}`],
    ['POST', `/events/${id}/replay`],
    ['POST', `/services/${id}`],
    ['POST', `/services/${id}/delete`],
    ['GET', `/integrations/${id}`],
    ['POST', `/integrations/${id}/apps`],
    ['POST', `/integrations/${id}/sync`],
    ['POST', `/integrations/${id}/rotate`],
    ['POST', `/integrations/${id}/delete`],
    ['POST', `/integrations/${id}/oauth`],
    ['POST', `/integrations/${id}/test-event`],
  ];
  const send = (method: string, target: string, cookie = ui.cookie, fields: Record<string, string> = {}) =>
    raw(method, target, {
      headers: { cookie, ...(method === 'POST' && { 'content-type': 'application/x-www-form-urlencoded' }) },
      ...(method === 'POST' && { body: form({ name: 'svc', command: 'echo hi', appName: 'hostile-app', monitoredApps: 'hostile-app', ...fields }) }),
    });

  it('refuses hostile ids on every page and form that takes one', async () => {
    for (const segment of HOSTILE_SEGMENTS) {
      for (const [method, target] of pages(segment)) expectRefusal(await send(method!, target!), `${method} ${target}`);
    }
    await expectAlive();
  });

  it('refuses hostile query values and form fields', async () => {
    const lists = ['/incidents', '/deploys', '/events', '/services', '/integrations', `/integrations/${integration.id}`, `/incidents/${randomUUID()}`, '/login', '/assets/app.css'];
    for (const path of lists) {
      for (const name of ['app', 'service', 'status', 'severity', 'integration', 'test', 'fragment', 'notice', 'next']) {
        for (const value of HOSTILE_VALUES) expectRefusal(await send('GET', `${path}?${name}=${value}`), `GET ${path}?${name}=${value}`);
      }
    }
    for (const segment of HOSTILE_SEGMENTS) expectRefusal(await send('GET', `/assets/${segment}`), `GET /assets/${segment}`);
    // Form fields with NUL bytes: the service form stores them, the login form looks a token up.
    expectRefusal(await send('POST', '/services', ui.cookie, { name: 'a\u0000b', herokuAppNames: '', slackChannels: '' }), 'service named with NUL');
    expectRefusal(await raw('POST', '/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=a%00b' }), 'login with NUL token');
    expectRefusal(await raw('POST', '/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=%E0%A4%A' }), 'login with bad encoding');
    await expectAlive();
  });

  it('refuses malformed session cookies', async () => {
    const value = ui.cookie.slice('pb_session='.length);
    const cookies = [
      'pb_session=%E0%A4%A',
      'pb_session=%',
      'pb_session=%FF',
      'pb_session=%00',
      `pb_session=${value}%00`,
      `pb_session=${value.replace('.', '%00.')}`,
    ];
    for (const cookie of cookies) {
      for (const path of ['/incidents', `/incidents/${randomUUID()}`, '/events', '/']) expectRefusal(await send('GET', path, cookie), `GET ${path} with ${cookie}`);
      expectRefusal(await send('POST', `/incidents/${randomUUID()}/acknowledge`, cookie), `POST with ${cookie}`);
    }
    // Someone else's malformed cookie on the same host is not ours to judge: the page still works.
    const page = await send('GET', '/incidents', `other=%E0%A4%A; junk=%00; ${ui.cookie}`);
    expect(page.status).toBe(200);
    await expectAlive();
  });
});

describe('other endpoints', () => {
  it('refuses bad request targets on health, metrics, OAuth and unknown paths', async () => {
    for (const value of HOSTILE_VALUES) {
      for (const path of ['/healthz', '/readyz', '/metrics', '/api/v1/openapi.json', '/oauth/heroku/callback', '/slack/interactions', '/nowhere']) {
        expectRefusal(await raw('GET', `${path}?x=${value}`), `GET ${path}?x=${value}`);
      }
      expectRefusal(await raw('GET', `/oauth/heroku/callback?code=${value}&state=${value}`, { headers: { accept: 'application/json' } }), `OAuth callback ${value}`, { json: true });
      expectRefusal(await raw('GET', `/${value}`), `GET /${value}`);
    }
    await expectAlive();
  });
});

describe('Slack interactions', () => {
  const post = (payload: string | null, extra = '') => {
    const body = `${payload === null ? '' : `payload=${encodeURIComponent(payload)}`}${extra}`;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    return raw('POST', '/slack/interactions', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature },
      body,
    });
  };

  it('refuses correctly signed payloads of the wrong shape', async () => {
    const payloads = [
      'null',
      '[]',
      '"block_actions"',
      '42',
      'true',
      '{}',
      '{"actions":"x"}',
      '{"type":"block_actions","actions":"x"}',
      '{"type":"block_actions","actions":5}',
      '{"type":"block_actions","actions":{"action_id":"incident_acknowledge"}}',
      '{"type":"block_actions","actions":[null]}',
      '{"type":"block_actions","actions":["x"]}',
      '{"type":"block_actions","actions":[{"action_id":5,"value":{}}]}',
      '{"type":"block_actions","user":"someone","actions":[]}',
      '{"type":"block_actions","user":{"name":5},"actions":[]}',
      '{"type":5}',
      '{"type":"block_actions","actions":[{"action_id":"incident_acknowledge","value":"x"}]',
      'not json',
    ];
    for (const payload of payloads) expectRefusal(await post(payload), `payload ${payload}`, { json: true });
    expectRefusal(await post(null), 'no payload field', { json: true });
    expectRefusal(await post(null, 'payload=%E0%A4%A'), 'payload with bad percent-encoding', { json: true });
    expectRefusal(await post(null, 'payload=%00'), 'payload of a NUL byte', { json: true });
    await expectAlive();
  });

  it('still applies a well-formed click and ignores ids that are not incidents', async () => {
    const click = (value: string) => JSON.stringify({ type: 'block_actions', user: { id: 'U1', name: 'alice' }, actions: [{ action_id: 'incident_acknowledge', value }] });
    for (const value of ['not-a-uuid', '\u0000', randomUUID()]) {
      const answer = await post(click(value));
      expect(answer.status, value).toBe(200);
    }
    await expectAlive();
  });
});
