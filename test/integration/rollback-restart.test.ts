import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynoCrashBody } from '../support/fixtures.js';
import { startFakeHeroku, type FakeHeroku } from '../support/fake-heroku.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { sendSlackInteraction } from '../support/slack-clicks.js';
import { herokuSettings, postWebhook, signInUi, slackSettings, startTestStack, waitFor, type TestStack } from '../support/stack.js';

// Rollback and restart from an incident, against a fake Heroku that keeps releases and dynos,
// rolls back by making a new release and sends its webhook back to pulsebridge.

const TOKEN = 'heroku-token-rollback-tests';
const SLACK_SIGNING_SECRET = 'slack-signing-secret-rollback';
let heroku: FakeHeroku;
let slack: FakeSlack;
let stack: TestStack;

beforeAll(async () => {
  heroku = await startFakeHeroku();
  slack = await startFakeSlack();
  heroku.addToken(TOKEN, { apps: ['shop', 'quiet-app', 'fleet', 'slacky', 'pager'], forbidden: ['locked'] });
  stack = await startTestStack({ config: herokuSettings(heroku, slackSettings(slack, { SLACK_DEFAULT_CHANNEL: '#ops', SLACK_CHANNEL_INTERVAL_MS: '20', SLACK_SIGNING_SECRET })) });
  stack.startWorker();
  heroku.deliverWebhooks((url) => url.replace('http://pulsebridge.test', stack.url));
});
afterAll(async () => {
  await stack?.stop();
  await heroku?.close();
  await slack?.close();
});

/** An integration with the Heroku token monitoring `apps` (its managed webhooks deliver to the test server). */
async function connect(apps: string[], apiToken: string | null = TOKEN) {
  const { status, body } = await stack.call('POST', '/api/v1/integrations/heroku', { body: { name: `account ${randomUUID().slice(0, 6)}`, monitoredApps: apps, ...(apiToken && { apiToken }) } });
  expect(status).toBe(201);
  return body as { id: string; secret: string };
}

/** A release Heroku makes (its webhook reaches pulsebridge), once pulsebridge has its pulse. */
async function release(app: string, description: string) {
  const made = heroku.addRelease(app, { description, email: 'dev@example.com' });
  // The fake sends webhooks only for what it does itself; a deploy's webhook is sent the way Heroku would.
  await heroku.announceRelease(made);
  await waitFor(async () => (await stack.sql('SELECT 1 FROM pulses WHERE external_id = $1', [made.id])).length > 0, { what: `the pulse of ${app} v${made.version}` });
  return made;
}

/** A dyno crash on `app` that opens an incident; returns the incident's id. */
async function crash(integration: { id: string; secret: string }, app: string, dyno = 'web.1') {
  const posted = await postWebhook(stack, integration.id, dynoCrashBody(app, dyno), { secret: integration.secret });
  expect(posted.status).toBe(202);
  const [incident] = await waitFor(async () => {
    const rows = await stack.sql<{ id: string }>("SELECT id FROM incidents WHERE app_name = $1 AND entity = 'dyno' AND dedup_key LIKE '%' || $2 || '%'", [app, dyno]);
    return rows.length > 0 && rows;
  }, { what: `an incident on ${app}` });
  return incident!.id;
}

const finished = (runId: string) =>
  waitFor(async () => {
    const run = await stack.call('GET', `/api/v1/action-runs/${runId}`);
    return (run.body.status === 'succeeded' || run.body.status === 'failed') && run.body;
  }, { what: `run ${runId} to finish`, timeoutMs: 15_000 });

describe('rolling back the suspect deploy', () => {
  let integration: { id: string; secret: string };
  let incidentId: string;
  let good: Awaited<ReturnType<typeof release>>;

  beforeAll(async () => {
    integration = await connect(['shop']);
    good = await release('shop', 'Deploy 1111111');
    await release('shop', 'Deploy 2222222');
    incidentId = await crash(integration, 'shop');
  });

  it('rolls back to the release before the suspect deploy, on the timeline and in the Slack thread; the rollback release arrives as a pulse', async () => {
    const asked = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-rollback`, { body: {} });
    expect(asked.status, JSON.stringify(asked.body)).toBe(202);
    const run = await finished(asked.body.runId);
    expect(run).toMatchObject({ kind: 'rollback', status: 'succeeded', appName: 'shop', targetReleaseId: good.id, targetVersion: 1, expectedVersion: 2, resultVersion: 3, error: null, command: null });
    expect(heroku.releases('shop').at(-1)).toMatchObject({ version: 3, description: 'Rollback to v1', current: true });
    const rollbacks = heroku.calls.filter((c) => c.method === 'POST' && c.path === '/apps/shop/releases');
    expect(rollbacks.map((c) => c.body)).toEqual([{ release: good.id }]);

    const entry = await waitFor(async () => (await stack.sql("SELECT message FROM timeline_entries WHERE incident_id = $1 AND kind = 'action_run'", [incidentId]))[0]);
    expect(entry.message).toBe('admin (ADMIN_TOKEN) rolled shop back to v1 (new release v3)');
    await waitFor(() => slack.messages('ops').some((m) => m.thread_ts !== undefined && m.text.includes('rolled shop back to v1')), { what: 'the thread reply' });
    // Heroku's webhook for the new release reaches pulsebridge like any other release.
    await waitFor(async () => (await stack.sql("SELECT 1 FROM pulses WHERE app_name = 'shop' AND kind = 'release' AND external_id = $1", [run.resultReleaseId])).length > 0, { what: 'the rollback pulse' });
  });

  it('refuses, naming the current release, when the app has moved on since; with releaseId it rolls back anyway', async () => {
    // After the first test, v3 (the rollback) is current: the suspect (v2) no longer is.
    const refused = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-rollback`, { body: {} });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'moved_on', currentRelease: { version: 3, description: 'Rollback to v1', user: 'owner@example.com' }, targetRelease: { version: 1 } });
    expect(refused.body.error.message).toMatch(/shop has moved on since the suspect deploy \(v2\): its current release is v3/);

    const v2 = heroku.releases('shop').find((r) => r.version === 2)!;
    const asked = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-rollback`, { body: { releaseId: v2.id } });
    expect(asked.status).toBe(202);
    expect(await finished(asked.body.runId)).toMatchObject({ status: 'succeeded', targetVersion: 2, resultVersion: 4 });
  });

  it('a worker that finds the app moved on after the request rolls nothing back and says so', async () => {
    const v1 = heroku.releases('shop')[0]!;
    const [run] = await stack.sql<{ id: string }>(
      `INSERT INTO action_runs (incident_id, kind, app_name, time_to_live, target_release_id, target_version, expected_version, post_to_timeline, requested_by)
       VALUES ($1, 'rollback', 'shop', 120, $2, 1, 3, true, 'someone') RETURNING id`,
      [incidentId, v1.id],
    );
    const before = heroku.releases('shop').length;
    await stack.runtime.queues.enqueueRun(run!.id);
    const done = await finished(run!.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/^shop moved on to v4 \(Rollback to v2\) after the rollback was asked for, so nothing was rolled back/);
    expect(heroku.releases('shop')).toHaveLength(before);
  });

  it('a job run again never rolls back twice', async () => {
    const count = heroku.releases('shop').length;
    const [last] = await stack.sql<{ id: string }>("SELECT id FROM action_runs WHERE incident_id = $1 AND kind = 'rollback' AND status = 'succeeded' ORDER BY created_at DESC LIMIT 1", [incidentId]);
    await stack.runtime.queues.enqueueRun(last!.id, 'orphaned');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(heroku.releases('shop')).toHaveLength(count);
    // One that was running when its worker stopped is failed, not retried: Heroku may have acted.
    const [stuck] = await stack.sql<{ id: string }>(
      `INSERT INTO action_runs (incident_id, kind, status, app_name, time_to_live, target_release_id, target_version, expected_version, post_to_timeline, requested_by, started_at)
       VALUES ($1, 'rollback', 'running', 'shop', 120, $2, 1, 4, true, 'someone', now()) RETURNING id`,
      [incidentId, heroku.releases('shop')[0]!.id],
    );
    await stack.runtime.queues.enqueueRun(stuck!.id);
    expect((await finished(stuck!.id)).error).toMatch(/whether Heroku acted is unknown. Check `heroku releases -a shop`/);
    expect(heroku.releases('shop')).toHaveLength(count);
  });
});

describe('what a rollback refuses', () => {
  it('an incident with no suspect release, a release Heroku will not roll back to, an unknown release, an app no integration with a token monitors', async () => {
    const integration = await connect(['quiet-app']);
    const first = heroku.addRelease('quiet-app', { description: 'Deploy old', eligibleForRollback: false });
    heroku.addRelease('quiet-app', { description: 'Deploy new' });
    const incidentId = await crash(integration, 'quiet-app');
    const rollback = (body: unknown) => stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-rollback`, { body });

    const noSuspect = await rollback({});
    expect(noSuspect.status).toBe(409);
    expect(noSuspect.body.error.message).toMatch(/no suspect release of quiet-app to roll back/);
    expect((await rollback({ releaseId: first.id })).body.error).toMatchObject({ code: 'conflict', message: 'Heroku will not roll quiet-app back to v1 (not eligible for rollback)' });
    expect((await rollback({ releaseId: randomUUID() })).status).toBe(404);
    expect((await rollback({ releaseId: 'v1' })).status).toBe(400);
    expect((await stack.call('POST', `/api/v1/incidents/${randomUUID()}/actions/heroku-rollback`, { body: {} })).status).toBe(404);

    const untokened = await connect(['elsewhere'], null);
    const other = await crash(untokened, 'elsewhere');
    const refused = await stack.call('POST', `/api/v1/incidents/${other}/actions/heroku-rollback`, { body: { releaseId: first.id } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe('no integration with a Heroku API token or OAuth connection monitors elsewhere');
    expect(heroku.calls.filter((c) => c.path.startsWith('/apps/elsewhere'))).toEqual([]);
  });
});

describe('restarting dynos', () => {
  let integration: { id: string; secret: string };
  let incidentId: string;
  beforeAll(async () => {
    integration = await connect(['fleet', 'locked']);
    heroku.setFormation('fleet', { web: 2, worker: 1 });
    incidentId = await crash(integration, 'fleet', 'web.2');
  });
  const restart = (body: unknown) => stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-restart`, { body });

  it('restarts one dyno, a process type or every dyno, each on the timeline', async () => {
    for (const body of [{ appName: 'fleet', dyno: 'web.2' }, { appName: 'fleet', processType: 'worker' }, { appName: 'fleet' }]) {
      const asked = await restart(body);
      expect(asked.status).toBe(202);
      expect(await finished(asked.body.runId)).toMatchObject({ kind: 'restart', status: 'succeeded', error: null });
    }
    expect(heroku.restarts('fleet').map((r) => [r.dyno, r.processType])).toEqual([
      ['web.2', null],
      [null, 'worker'],
      [null, null],
    ]);
    const entries = await stack.sql<{ message: string }>("SELECT message FROM timeline_entries WHERE incident_id = $1 AND kind = 'action_run' ORDER BY seq", [incidentId]);
    expect(entries.map((e) => e.message)).toEqual(['admin (ADMIN_TOKEN) restarted dyno web.2 on fleet', 'admin (ADMIN_TOKEN) restarted the worker dynos on fleet', 'admin (ADMIN_TOKEN) restarted every dyno on fleet']);
  });

  it("records Heroku's refusals (403, 404, 409) and rides out a 429", async () => {
    const outcome = async (body: unknown) => finished((await restart(body)).body.runId);
    expect((await outcome({ appName: 'fleet', dyno: 'web.9' })).error).toBe('Heroku has no dyno web.9 on fleet (not_found)');
    const lockedIncident = await crash(integration, 'locked');
    const forbidden = await stack.call('POST', `/api/v1/incidents/${lockedIncident}/actions/heroku-restart`, { body: { appName: 'locked' } });
    expect((await finished(forbidden.body.runId)).error).toBe('Heroku refused the restart: You do not have access to the app locked. (forbidden)');
    heroku.failNext({ method: 'DELETE', path: /\/apps\/fleet\/dynos$/ }, 1, { status: 409, id: 'conflict', message: 'A release is in progress.' });
    expect((await outcome({ appName: 'fleet' })).error).toBe('Heroku refused the restart: A release is in progress. (conflict)');
    heroku.failNext({ method: 'DELETE', path: /\/apps\/fleet\/formations\/web$/ }, 1, { status: 429, id: 'rate_limit', message: 'Your account reached the API rate limit', retryAfter: 1 });
    expect(await outcome({ appName: 'fleet', processType: 'web' })).toMatchObject({ status: 'succeeded' });
  });

  it('refuses bad requests and apps no integration with a token monitors, and lets responders restart', async () => {
    expect((await restart({ appName: 'fleet', dyno: 'web.1', processType: 'web' })).status).toBe(400);
    expect((await restart({ appName: 'fleet', dyno: 'web' })).status).toBe(400);
    expect((await restart({ appName: 'fleet', processType: 'web; rm -rf /' })).status).toBe(400);
    expect((await restart({ appName: 'nobody-monitors' })).status).toBe(409);
    // Another app the token reaches is still not this incident's to restart.
    const other = await restart({ appName: 'shop' });
    expect(other.status).toBe(409);
    expect(other.body.error.message).toBe('shop is not an app of this incident (fleet)');
    const responder = await stack.call('POST', '/api/v1/tokens', { body: { name: 'on-call', role: 'responder' } });
    const asked = await stack.call('POST', `/api/v1/incidents/${incidentId}/actions/heroku-restart`, { token: responder.body.token, body: { appName: 'fleet', dyno: 'web.1' } });
    expect(asked.status).toBe(202);
    expect(await finished(asked.body.runId)).toMatchObject({ requestedBy: 'on-call', status: 'succeeded' });
    const listed = await stack.call('GET', `/api/v1/incidents/${incidentId}/action-runs`);
    expect(listed.body.items.every((run: { kind: string }) => run.kind === 'restart')).toBe(true);
  });
});

describe('from Slack', () => {
  type Button = { action_id: string; value: string; text: { text: string }; style?: string; confirm?: { title: { text: string }; text: { type: string; text: string } } };
  const buttonsOf = (blocks: unknown[] | undefined) => ((blocks ?? []) as { type: string; elements?: Button[] }[]).filter((b) => b.type === 'actions').flatMap((b) => b.elements ?? []);
  const click = (button: Pick<Button, 'action_id' | 'value'>) =>
    sendSlackInteraction(stack.url, SLACK_SIGNING_SECRET, { type: 'block_actions', trigger_id: randomUUID(), user: { id: 'U42', username: 'dana', name: 'dana' }, channel: { id: slack.channelId('ops') }, actions: [{ action_id: button.action_id, value: button.value }] });
  const runsOf = (incidentId: string) => stack.sql<{ id: string; kind: string; status: string; requested_by: string; target_version: number | null; dyno_name: string | null }>('SELECT * FROM action_runs WHERE incident_id = $1 ORDER BY created_at', [incidentId]);

  it('the incident message offers Roll back and Restart behind confirmations; a click acts as the Slack user', async () => {
    const integration = await connect(['slacky']);
    heroku.setFormation('slacky', { web: 1 });
    await release('slacky', 'Deploy aaaaaaa');
    await release('slacky', 'Deploy bbbbbbb');
    const incidentId = await crash(integration, 'slacky', 'web.1');
    const message = await waitFor(() => slack.messages('ops').find((m) => m.thread_ts === undefined && buttonsOf(m.blocks).some((b) => b.value.startsWith(incidentId))), { what: "the incident's message" });
    const buttons = buttonsOf(message.blocks);
    expect(buttons.map((b) => b.text.text)).toEqual(['Acknowledge', 'Resolve', 'Roll back to v1', 'Restart web.1']);
    const [rollback, restart] = [buttons[2]!, buttons[3]!];
    expect(rollback).toMatchObject({ action_id: 'incident_rollback', value: incidentId, style: 'danger', confirm: { title: { text: 'Roll back slacky?' }, text: { type: 'plain_text' } } });
    expect(restart).toMatchObject({ action_id: 'incident_restart', value: `${incidentId} dyno:web.1`, confirm: { title: { text: 'Restart web.1?' } } });

    expect((await click(rollback)).status).toBe(200);
    const run = await waitFor(async () => (await runsOf(incidentId)).find((r) => r.status === 'succeeded'));
    expect(run).toMatchObject({ kind: 'rollback', requested_by: 'dana (Slack)', target_version: 1 });
    await waitFor(() => slack.messages('ops').some((m) => m.thread_ts === message.ts && m.text.includes('dana (Slack) rolled slacky back to v1 (new release v3)')), { what: 'the thread reply' });

    expect((await click(restart)).status).toBe(200);
    await waitFor(async () => (await runsOf(incidentId)).some((r) => r.kind === 'restart' && r.status === 'succeeded' && r.dyno_name === 'web.1'));
    expect(heroku.restarts('slacky').map((r) => r.dyno)).toEqual(['web.1']);
  });

  it('a Roll back click after the app moved on rolls nothing back and asks the person again, naming the release', async () => {
    const [incident] = await stack.sql<{ id: string }>("SELECT id FROM incidents WHERE app_name = 'slacky' AND entity = 'dyno'");
    const before = (await runsOf(incident!.id)).length;
    expect((await click({ action_id: 'incident_rollback', value: incident!.id })).status).toBe(200);
    const asked = await waitFor(() => slack.ephemerals().find((e) => e.user === 'U42' && e.text.includes('slacky has moved on')), { what: 'the ephemeral question' });
    expect(asked.text).toMatch(/^Nothing was rolled back: slacky has moved on since the suspect deploy \(v2\): its current release is v3 \(Rollback to v1\)/);
    expect(await runsOf(incident!.id)).toHaveLength(before);
    const again = buttonsOf(asked.blocks)[0]!;
    const v1 = heroku.releases('slacky')[0]!;
    expect(again).toMatchObject({ text: { text: 'Roll back to v1 anyway' }, value: `${incident!.id} ${v1.id} 3`, confirm: { title: { text: 'Roll back to v1 anyway?' } } });
    // Clicked after the app moved on again: nothing is rolled back, and the person is asked again.
    const fix = await release('slacky', 'Deploy fix0001 <!channel>');
    expect((await click(again)).status).toBe(200);
    // The release's description reaches the person escaped: never a mention.
    await waitFor(() => slack.ephemerals().some((e) => e.text.includes('slacky has moved on since v3: its current release is v4 (Deploy fix0001 &lt;!channel&gt;)')), { what: 'the second question' });
    expect(await runsOf(incident!.id)).toHaveLength(before);
    const askedAgain = buttonsOf(slack.ephemerals().at(-1)!.blocks)[0]!;
    expect(askedAgain.value).toBe(`${incident!.id} ${v1.id} ${fix.version}`);
    expect((await click(askedAgain)).status).toBe(200);
    await waitFor(async () => (await runsOf(incident!.id)).length === before + 1 && (await runsOf(incident!.id)).at(-1)!.status === 'succeeded');
    expect(heroku.releases('slacky').at(-1)).toMatchObject({ version: 5, description: 'Rollback to v1' });
  });

  it('buttons whose values were tampered with do nothing', async () => {
    const [incident] = await stack.sql<{ id: string }>("SELECT id FROM incidents WHERE app_name = 'slacky' AND entity = 'dyno'");
    const before = (await runsOf(incident!.id)).length;
    for (const value of [`${incident!.id} dyno:web.1;reboot`, `${incident!.id} type:`, `${incident!.id} dyno:../x`, `${incident!.id} nope`, 'not-an-id', `${incident!.id} ${incident!.id} extra`]) {
      for (const action_id of ['incident_rollback', 'incident_restart']) expect((await click({ action_id, value })).status).toBe(200);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await runsOf(incident!.id)).toHaveLength(before);
  });
});

describe('from the incident page', () => {
  it('a rollback is confirmed on its own page, refused when the app moved on meanwhile, and asked again naming the release', async () => {
    const integration = await connect(['pager']);
    const v1 = await release('pager', 'Deploy <img src=x onerror=alert(1)>');
    await release('pager', 'Deploy 2222222');
    const incidentId = await crash(integration, 'pager');
    const session = await signInUi(stack);
    const post = (path: string, fields: Record<string, string>) =>
      fetch(`${stack.url}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: session.csrf, ...fields }) });
    const field = (page: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(page)?.[1];
    const get = (path: string) => fetch(`${stack.url}${path}`, { headers: { cookie: session.cookie } });

    const incidentPage = await (await fetch(`${stack.url}/incidents/${incidentId}`, { headers: { cookie: session.cookie } })).text();
    expect(incidentPage).toContain(`<form method="get" action="/incidents/${incidentId}/rollback">`);
    expect(incidentPage).toMatch(/<option value="dyno" selected>dyno<\/option>/);

    const confirm = await get(`/incidents/${incidentId}/rollback`);
    expect(confirm.status).toBe(200);
    const page = await confirm.text();
    expect(page).toContain('Roll back pager to v1?');
    expect(page).toContain('Deploy &lt;img src=x onerror=alert(1)&gt;');
    expect(page).not.toContain('<img src=x');
    expect([field(page, 'releaseId'), field(page, 'expectedVersion')]).toEqual([v1.id, '2']);

    // The app moves on while the page is open: the confirmed rollback is refused, nothing is asked of Heroku.
    await release('pager', 'Deploy 3333333');
    const refused = await post(`/incidents/${incidentId}/rollback`, { releaseId: v1.id, expectedVersion: '2' });
    expect(refused.status).toBe(303);
    expect(decodeURIComponent(refused.headers.get('location') ?? '')).toContain('Pager has moved on since v2: its current release is v3 (Deploy 3333333)');
    expect(await stack.sql("SELECT 1 FROM action_runs WHERE incident_id = $1", [incidentId])).toEqual([]);

    const again = await (await get(`/incidents/${incidentId}/rollback`)).text();
    expect(again).toContain('Roll back to v1 anyway?');
    expect(again).toMatch(/role="alert">Pager has moved on since the suspect deploy \(v2\): its current release is v3/);
    expect(field(again, 'expectedVersion')).toBe('3');
    const started = await post(`/incidents/${incidentId}/rollback`, { releaseId: v1.id, expectedVersion: '3' });
    expect(decodeURIComponent(started.headers.get('location') ?? '')).toContain('Rollback started.');
    const run = await waitFor(async () => (await stack.sql<{ status: string; result_version: number }>("SELECT status, result_version FROM action_runs WHERE incident_id = $1 AND status = 'succeeded'", [incidentId]))[0], { what: 'the rollback' });
    expect(run).toMatchObject({ result_version: 4 });
    const runs = await (await fetch(`${stack.url}/incidents/${incidentId}?fragment=runs`, { headers: { cookie: session.cookie } })).text();
    expect(runs).toMatch(/Rollback of pager to v1\s*· new release v4/);
  });

  it('a restart is confirmed on its own page; a bad dyno name is refused before it', async () => {
    const [incident] = await stack.sql<{ id: string }>("SELECT id FROM incidents WHERE app_name = 'pager' AND entity = 'dyno'");
    heroku.setFormation('pager', { web: 2 });
    const session = await signInUi(stack);
    const post = (path: string, fields: Record<string, string>) =>
      fetch(`${stack.url}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: session.csrf, ...fields }) });
    const confirmPage = (fields: Record<string, string>) => fetch(`${stack.url}/incidents/${incident!.id}/restart?${new URLSearchParams(fields)}`, { redirect: 'manual', headers: { cookie: session.cookie } });
    const refused = await confirmPage({ appName: 'pager', scope: 'dyno', name: 'web.1; reboot' });
    expect(decodeURIComponent(refused.headers.get('location') ?? '')).toContain('Give a dyno (web.1) or a process type (web)');
    const page = await (await confirmPage({ appName: 'pager', scope: 'dyno', name: 'web.2' })).text();
    expect(page).toContain('Restart dyno web.2 on pager?');
    const started = await post(`/incidents/${incident!.id}/restart`, { appName: 'pager', scope: 'dyno', name: 'web.2' });
    expect(decodeURIComponent(started.headers.get('location') ?? '')).toContain('Restart started.');
    await waitFor(() => heroku.restarts('pager').some((r) => r.dyno === 'web.2'), { what: 'the restart' });
  });
});
