import tls from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HEROKU_ACCEPT, startFakeHeroku, type FakeHeroku } from '../support/fake-heroku.js';

const TOKEN = 'tok-ops';
/** Rendezvous time runs 10x fast: a TTL of 1 s kills after 100 ms. */
const TIME_SCALE = 10;

let fake: FakeHeroku;

beforeAll(async () => {
  fake = await startFakeHeroku({ rendezvous: { timeScale: TIME_SCALE } });
  fake.addToken(TOKEN, { apps: ['x', 'y'], forbidden: ['locked'] });
});
afterAll(async () => fake?.close());
beforeEach(() => {
  fake.reset();
  fake.setRateLimitRemaining(4500);
  fake.rendezvous.setTlsBroken(false);
});

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

async function api(method: string, path: string, options: { body?: unknown; token?: string | null; accept?: string | null } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const accept = options.accept === undefined ? HEROKU_ACCEPT : options.accept;
  if (accept !== null) headers.Accept = accept;
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${fake.apiUrl}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text), headers: response.headers };
}

const webhookInput = { include: ['api:build', 'api:release', 'dyno'], level: 'notify', url: 'https://pulse.example.com/webhooks/heroku/int-1', secret: 's3cret' };

/** Attaches to a Rendezvous URL: returns everything the server wrote until it closed. */
function attach(attachUrl: string, options: { input?: string } = {}): Promise<string> {
  const url = new URL(attachUrl);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: fake.rendezvous.caPem }, () => {
      socket.write(`${url.pathname.slice(1)}${url.search}\r\n`);
      if (options.input !== undefined) socket.write(options.input);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

async function runAttached(command: string, extra: Record<string, unknown> = {}, input?: string) {
  const created = await api('POST', '/apps/x/dynos', { body: { command, attach: true, size: 'standard-1X', ...extra } });
  expect(created.status).toBe(201);
  const output = await attach(created.body.attach_url, { input });
  const info = await api('GET', `/apps/x/dynos/${created.body.id}`);
  return { created: created.body, output, info: info.body };
}

describe('fake Heroku Platform API: headers and auth', () => {
  it('refuses a request without the version 3 Accept header', async () => {
    for (const accept of [null, 'application/json']) {
      const answer = await api('GET', '/apps/x', { accept });
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({
        id: 'bad_request',
        message: "Please specify a version along with Heroku's API MIME type. For example, `Accept: application/vnd.heroku+json; version=3`.",
      });
    }
  });

  it('refuses missing and unknown tokens, records every call', async () => {
    expect(await api('GET', '/apps/x', { token: null })).toMatchObject({ status: 401, body: { id: 'unauthorized', message: 'Invalid credentials provided.' } });
    expect((await api('GET', '/apps/x', { token: 'nope' })).status).toBe(401);
    const ok = await api('GET', '/apps/x');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ id: expect.any(String), name: 'x' });
    expect(ok.headers.get('content-type')).toMatch(/^application\/json/);
    expect(fake.calls.map((c) => [c.method, c.path, c.token, c.status])).toEqual([
      ['GET', '/apps/x', null, 401],
      ['GET', '/apps/x', 'nope', 401],
      ['GET', '/apps/x', TOKEN, 200],
    ]);
  });

  it('answers 404 for apps the token cannot reach and 403 for forbidden ones', async () => {
    expect(await api('GET', '/apps/elsewhere/webhooks')).toMatchObject({ status: 404, body: { id: 'not_found', message: "Couldn't find that app." } });
    expect(await api('POST', '/apps/locked/webhooks', { body: webhookInput })).toMatchObject({
      status: 403,
      body: { id: 'forbidden', message: 'You do not have access to the app locked.' },
    });
    expect(fake.webhooks()).toEqual([]);
  });

  it('sends RateLimit-Remaining on every answer', async () => {
    expect((await api('GET', '/apps/x')).headers.get('ratelimit-remaining')).toBe('4500');
    fake.setRateLimitRemaining(12);
    expect((await api('GET', '/apps/x', { token: null })).headers.get('ratelimit-remaining')).toBe('12');
  });

  it('failNext answers faults before anything else, then recovers', async () => {
    fake.failNext({ method: 'POST', path: /^\/apps\/x\/webhooks$/ }, 1, { status: 429, id: 'rate_limit', message: 'Your account reached the API rate limit.', retryAfter: 2 });
    fake.failNext({ path: /\/dynos/ }, 2, { status: 503, id: 'unavailable', message: 'Service unavailable.' });

    const limited = await api('POST', '/apps/x/webhooks', { body: webhookInput, token: 'unknown-token' });
    expect(limited).toMatchObject({ status: 429, body: { id: 'rate_limit', message: 'Your account reached the API rate limit.' } });
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(fake.webhooks()).toEqual([]);

    for (let i = 0; i < 2; i += 1) {
      const down = await api('GET', '/apps/x/dynos/any');
      expect(down).toMatchObject({ status: 503, body: { id: 'unavailable' } });
      expect(down.headers.get('retry-after')).toBeNull();
    }
    expect((await api('GET', '/apps/x/dynos/any')).status).toBe(404);
    expect((await api('POST', '/apps/x/webhooks', { body: webhookInput })).status).toBe(201);
    expect(fake.calls.map((c) => c.status)).toEqual([429, 503, 503, 404, 201]);
  });
});

describe('fake Heroku Platform API: app webhooks', () => {
  it('creates, lists, reads, updates and deletes a webhook', async () => {
    const created = await api('POST', '/apps/x/webhooks', { body: { ...webhookInput, authorization: 'Bearer abc' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      app: { id: expect.any(String), name: 'x' },
      include: webhookInput.include,
      level: 'notify',
      url: webhookInput.url,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(created.headers.get('heroku-webhook-secret')).toBeNull();
    const id = created.body.id as string;
    expect(fake.webhooks('x')).toEqual([expect.objectContaining({ id, app: 'x', secret: 's3cret', authorization: 'Bearer abc' })]);

    expect(await api('GET', '/apps/x/webhooks')).toMatchObject({ status: 200, body: [{ id }] });
    expect(await api('GET', '/apps/y/webhooks')).toMatchObject({ status: 200, body: [] });
    expect(await api('GET', `/apps/x/webhooks/${id}`)).toMatchObject({ status: 200, body: { id, level: 'notify' } });

    const conflict = await api('POST', '/apps/x/webhooks', { body: webhookInput });
    expect(conflict).toMatchObject({ status: 409, body: { id: 'conflict', message: expect.any(String) } });

    const updated = await api('PATCH', `/apps/x/webhooks/${id}`, { body: { level: 'sync', include: ['api:release'] } });
    expect(updated).toMatchObject({ status: 200, body: { id, level: 'sync', include: ['api:release'] } });
    expect(fake.webhooks('x')[0]).toMatchObject({ level: 'sync', secret: 's3cret' });

    expect(await api('DELETE', `/apps/x/webhooks/${id}`)).toMatchObject({ status: 200, body: { id, level: 'sync' } });
    expect(fake.webhooks()).toEqual([]);
    for (const method of ['GET', 'DELETE']) {
      expect(await api(method, `/apps/x/webhooks/${id}`)).toMatchObject({ status: 404, body: { id: 'not_found' } });
    }
  });

  it('generates a secret when none is given and shows it once in a header', async () => {
    const { secret: _secret, ...withoutSecret } = webhookInput;
    const created = await api('POST', '/apps/y/webhooks', { body: withoutSecret });
    expect(created.status).toBe(201);
    const header = created.headers.get('heroku-webhook-secret');
    expect(header).toMatch(/^[0-9a-f]{60}$/);
    expect(fake.webhooks('y')[0]?.secret).toBe(header);
  });

  it('validates webhook bodies against the Platform API schema', async () => {
    const cases: [unknown, RegExp][] = [
      [{ level: 'notify', url: webhookInput.url }, /include is required/],
      [{ ...webhookInput, level: 'sometimes' }, /level must be one of "notify", "sync"/],
      [{ ...webhookInput, colour: 'blue' }, /colour is not an allowed property/],
      [{ ...webhookInput, include: 'api:build' }, /include must be an array/],
      [{ ...webhookInput, include: ['api:build', 7] }, /include\[1\] must be a string/],
      [{ ...webhookInput, url: 'not a url' }, /url must be a valid uri/],
      [['not', 'an', 'object'], /the request body must be an object/],
    ];
    for (const [body, message] of cases) {
      const answer = await api('POST', '/apps/x/webhooks', { body });
      expect(answer.status, JSON.stringify(body)).toBe(422);
      expect(answer.body.id).toBe('invalid_params');
      expect(answer.body.message).toMatch(message);
    }
    const created = await api('POST', '/apps/x/webhooks', { body: webhookInput });
    const invalidUpdate = await api('PATCH', `/apps/x/webhooks/${created.body.id}`, { body: { level: 'loud' } });
    expect(invalidUpdate).toMatchObject({ status: 422, body: { id: 'invalid_params' } });
    expect(fake.webhooks('x')).toHaveLength(1);
  });

  it('creates, lists, reads (by id, URL or token) and deletes a log drain, refusing a second with the same URL and bodies outside the schema', async () => {
    const url = 'https://pulse.example.com/drains/heroku/int-1/x/token';
    const created = await api('POST', '/apps/x/log-drains', { body: { url } });
    expect(created).toMatchObject({ status: 201, body: { id: expect.any(String), url, token: expect.stringMatching(/^d\./), app: { name: 'x' } } });
    expect(Object.keys(created.body).sort()).toEqual(['addon', 'app', 'created_at', 'id', 'token', 'updated_at', 'url']);
    expect(await api('POST', '/apps/x/log-drains', { body: { url } })).toMatchObject({ status: 422, body: { id: 'invalid_params', message: 'Url has already been taken.' } });
    expect(await api('POST', '/apps/x/log-drains', { body: {} })).toMatchObject({ status: 422, body: { message: expect.stringMatching(/url is required/) } });
    expect((await api('GET', '/apps/x/log-drains')).body.map((d: { id: string }) => d.id)).toEqual([created.body.id]);
    for (const identity of [created.body.id, encodeURIComponent(url), created.body.token]) expect((await api('GET', `/apps/x/log-drains/${identity}`)).body.id).toBe(created.body.id);
    expect((await api('DELETE', `/apps/x/log-drains/${created.body.token}`)).status).toBe(200);
    expect(await api('GET', `/apps/x/log-drains/${created.body.id}`)).toMatchObject({ status: 404, body: { id: 'not_found' } });
    expect(fake.logDrains('x')).toEqual([]);
  });
});

describe('fake Heroku: one-off dynos over Rendezvous', () => {
  it('runs an attached command through a full Rendezvous session', async () => {
    const created = await api('POST', '/apps/x/dynos', { body: { command: 'echo hello', attach: true, size: 'standard-1X', time_to_live: 1800, env: { COLUMNS: '80' } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ command: 'echo hello', size: 'standard-1X', type: 'run', state: 'starting', exit_status: null });
    expect(created.body.name).toMatch(/^run\.\d{4}$/);
    const attachUrl = new URL(created.body.attach_url);
    expect(attachUrl.protocol).toBe('rendezvous:');
    expect(attachUrl.host).toBe(`127.0.0.1:${fake.rendezvous.port}`);

    const socket = tls.connect({ host: '127.0.0.1', port: fake.rendezvous.port, ca: fake.rendezvous.caPem });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    expect(socket.authorized).toBe(true);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(`${attachUrl.pathname.slice(1)}\r\n`);
    await closed;
    expect(received).toBe('rendezvous\r\nhello\n');

    const info = await api('GET', `/apps/x/dynos/${created.body.id}`);
    expect(info).toMatchObject({ status: 200, body: { id: created.body.id, state: 'down', exit_status: 0 } });
    expect((await api('GET', `/apps/x/dynos/${created.body.name}`)).body.id).toBe(created.body.id);
    expect(fake.dynos('x')).toEqual([expect.objectContaining({ command: 'echo hello', attach: true, state: 'down', exit_status: 0, env: { COLUMNS: '80' } })]);
    expect(fake.rendezvous.sessions().at(-1)).toMatchObject({ output: 'hello\n', exitStatus: 0, finished: true, killedForTtl: false });
  });

  it('runs the command with a real shell, feeds the client input to its stdin (Ctrl-D ends it), streams stderr too', async () => {
    const { output, info } = await runAttached(`read line; echo "got:$line" | tr a-z A-Z; cat; echo oops >&2; exit 3`, {}, 'ping\nrest\n\x04');
    // stdout and stderr are two pipes: only the order within each is certain.
    expect(output.startsWith('rendezvous\r\nGOT:PING\nrest\n')).toBe(true);
    expect(output).toHaveLength('rendezvous\r\nGOT:PING\nrest\noops\n'.length);
    expect(output).toContain('oops\n');
    expect(info).toMatchObject({ state: 'crashed', exit_status: 3 });
  });

  it('kills a process when its time to live elapses (scaled)', async () => {
    const started = Date.now();
    const { output, info, created } = await runAttached('echo started; sleep 5; echo never', { time_to_live: 1 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(output).toBe('rendezvous\r\nstarted\n');
    expect(info).toMatchObject({ state: 'crashed', exit_status: 143 });
    const session = fake.rendezvous.sessions().find((s) => created.attach_url.endsWith(s.secret));
    expect(session).toMatchObject({ killedForTtl: true, exitStatus: 143, finished: true });
  });

  it('refuses a time to live above 86400 and a missing command', async () => {
    expect(await api('POST', '/apps/x/dynos', { body: { command: 'true', time_to_live: 86_401 } })).toMatchObject({
      status: 422,
      body: { id: 'invalid_params', message: expect.stringMatching(/time_to_live/) },
    });
    expect((await api('POST', '/apps/x/dynos', { body: { attach: true } })).body.message).toMatch(/command is required/);
    expect((await api('POST', '/apps/x/dynos', { body: { command: 'true', env: { 'BAD-NAME': 'x' } } })).body.message).toMatch(/env\.BAD-NAME is not an allowed property/);
    expect(fake.dynos()).toEqual([]);
  });

  it('closes the connection without a word for an unknown or reused secret', async () => {
    const base = `rendezvous://127.0.0.1:${fake.rendezvous.port}`;
    expect(await attach(`${base}/not-a-secret`)).toBe('');

    const { created } = await runAttached('echo once');
    expect(await attach(created.attach_url)).toBe('');
  });

  it('simulates a TLS failure', async () => {
    fake.rendezvous.setTlsBroken(true);
    const created = await api('POST', '/apps/x/dynos', { body: { command: 'echo hi', attach: true } });
    await expect(attach(created.body.attach_url)).rejects.toThrow();
    fake.rendezvous.setTlsBroken(false);
    expect(await attach(created.body.attach_url)).toBe('rendezvous\r\nhi\n');
  });
});

describe('fake Heroku: OAuth', () => {
  const redirectUri = 'https://pulse.example.com/oauth/heroku/callback';

  async function authorize(state: string) {
    const query = new URLSearchParams({ client_id: fake.oauth.clientId, response_type: 'code', scope: 'write', state, redirect_uri: redirectUri });
    const response = await fetch(`${fake.idUrl}/oauth/authorize?${query}`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    return new URL(response.headers.get('location') ?? '');
  }

  async function token(params: Record<string, string>) {
    const response = await fetch(`${fake.idUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    return { status: response.status, body: (await response.json()) as any };
  }

  it('authorizes, exchanges the code, refreshes, and refuses a revoked refresh token', async () => {
    fake.oauth.setAccountApps(['acct-app']);
    fake.oauth.setAccessTokenTtl(28_800);

    const bad = await fetch(`${fake.idUrl}/oauth/authorize?client_id=wrong&response_type=code`, { redirect: 'manual' });
    expect(bad.status).toBe(400);

    const location = await authorize('st-1');
    expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('st-1');
    const code = location.searchParams.get('code') ?? '';
    expect(code).not.toBe('');

    expect(await token({ grant_type: 'authorization_code', code, client_secret: 'wrong' })).toMatchObject({
      status: 401,
      body: { id: 'unauthorized', message: 'Invalid OAuth credentials.' },
    });
    const exchanged = await token({ grant_type: 'authorization_code', code, client_secret: fake.oauth.clientSecret });
    expect(exchanged).toMatchObject({
      status: 200,
      body: { access_token: expect.any(String), refresh_token: expect.any(String), expires_in: 28_800, token_type: 'Bearer', user_id: fake.oauth.userId },
    });
    expect((await token({ grant_type: 'authorization_code', code, client_secret: fake.oauth.clientSecret })).status).toBe(401);

    const access = exchanged.body.access_token as string;
    const refreshToken = exchanged.body.refresh_token as string;
    expect((await api('GET', '/apps/acct-app', { token: access })).status).toBe(200);
    expect((await api('GET', '/apps/x', { token: access })).status).toBe(404);

    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: refreshToken, client_secret: fake.oauth.clientSecret });
    expect(refreshed).toMatchObject({ status: 200, body: { refresh_token: refreshToken, token_type: 'Bearer' } });
    expect(refreshed.body.access_token).not.toBe(access);
    expect((await api('GET', '/apps/acct-app', { token: refreshed.body.access_token })).status).toBe(200);

    fake.oauth.revoke(refreshToken);
    expect(await token({ grant_type: 'refresh_token', refresh_token: refreshToken, client_secret: fake.oauth.clientSecret })).toMatchObject({
      status: 401,
      body: { id: 'unauthorized', message: 'Invalid refresh token.', error: 'invalid_grant' },
    });
    expect((await api('GET', '/apps/acct-app', { token: refreshed.body.access_token })).status).toBe(401);
    expect(fake.oauth.issued().filter((i) => i.refreshToken === refreshToken)).toEqual([
      expect.objectContaining({ accessToken: access, revoked: true }),
      expect.objectContaining({ accessToken: refreshed.body.access_token, revoked: true }),
    ]);
  });

  it('issues access tokens that expire after the configured TTL', async () => {
    fake.oauth.setAccountApps(['acct-app']);
    fake.oauth.setAccessTokenTtl(0);
    const code = (await authorize('st-2')).searchParams.get('code') ?? '';
    const exchanged = await token({ grant_type: 'authorization_code', code, client_secret: fake.oauth.clientSecret });
    expect(exchanged.body.expires_in).toBe(0);
    expect(await api('GET', '/apps/acct-app', { token: exchanged.body.access_token })).toMatchObject({ status: 401, body: { id: 'unauthorized' } });
    fake.oauth.setAccessTokenTtl(28_800);
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: exchanged.body.refresh_token, client_secret: fake.oauth.clientSecret });
    expect((await api('GET', '/apps/acct-app', { token: refreshed.body.access_token })).status).toBe(200);
  });
});
