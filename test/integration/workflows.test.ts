import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynoCrashBody } from '../support/fixtures.js';
import { startFakeHeroku, type FakeHeroku } from '../support/fake-heroku.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { CONFIG_DIR, herokuSettings, postWebhook, signInUi, slackSettings, startTestStack, waitFor, type TestStack } from '../support/stack.js';

// Workflows from config/workflows.yaml, run by two workers against fake Heroku and Slack.

const TOKEN = 'heroku-token-workflow-tests';
const FLEET = ['wf-app', 'wf-a', 'wf-b', 'wf-c', 'wf-d', 'wf-e', 'wf-noisy', 'wf-broken', 'wf-rb'];
const WORKFLOWS = `
workflows:
  - name: restart-crashed-dyno
    on: incident.triggered
    if:
      entity: dyno
      app: [wf-app, wf-a, wf-b, wf-c, wf-d, wf-e, wf-broken]
    cooldown_minutes: 10
    actions:
      - heroku.restart: {}
      - slack.post:
          text: "Restarted for {{ incident.title }}"
      - incident.set_severity:
          severity: medium
  - name: acknowledge-noise
    on: incident.triggered
    if:
      app: wf-noisy
      title_contains: CRASHED
    actions:
      - incident.acknowledge: {}
  - name: note-acknowledged
    on: incident.acknowledged
    if:
      min_severity: low
    actions:
      - slack.post:
          text: "Acknowledged #{{ incident.number }} on {{ app.name }}: {{ incident.title }}"
  - name: announce-release
    on: pulse.created
    if:
      entity: release
      app: wf-app
    actions:
      - slack.post:
          channel: "#deploys"
          text: "{{ pulse.summary }}"
  - name: post-nowhere
    on: incident.triggered
    if:
      app: wf-broken
    actions:
      - slack.post:
          channel: "#nowhere"
          text: "never posted"
  - name: diagnose
    on: incident.triggered
    if:
      app: wf-rb
    actions:
      - heroku.run:
          command: "echo diagnosing {{ app.name }}"
          time_to_live: 60
  - name: rollback-on-repeat
    on: incident.alert_grouped
    if:
      app: wf-rb
    actions:
      - heroku.rollback: {}
  - name: note-resolved
    on: incident.resolved
    if:
      app: wf-rb
    actions:
      - slack.post:
          text: "Resolved: {{ incident.title }}"
  - name: switched-off
    enabled: false
    on: incident.triggered
    actions:
      - incident.acknowledge: {}
`;

let heroku: FakeHeroku;
let slack: FakeSlack;
let stack: TestStack;
let configDir: string;
let integration: { id: string; secret: string };

beforeAll(async () => {
  heroku = await startFakeHeroku({ rendezvous: { timeScale: 0.05 } });
  slack = await startFakeSlack();
  heroku.addToken(TOKEN, { apps: FLEET });
  for (const app of FLEET) heroku.setFormation(app, { web: 2 });
  configDir = mkdtempSync(path.join(tmpdir(), 'pb-workflows-'));
  cpSync(CONFIG_DIR, configDir, { recursive: true });
  writeFileSync(path.join(configDir, 'workflows.yaml'), WORKFLOWS);
  stack = await startTestStack({ config: herokuSettings(heroku, slackSettings(slack, { CONFIG_DIR: configDir, SLACK_DEFAULT_CHANNEL: '#ops', SLACK_CHANNEL_INTERVAL_MS: '20', WORKFLOW_DISPATCH_INTERVAL_MS: '100' })) });
  // Two workers: every run must still happen once.
  stack.startWorker();
  stack.startWorker();
  const created = await stack.call('POST', '/api/v1/integrations/heroku', { body: { name: `workflows ${randomUUID().slice(0, 6)}`, monitoredApps: FLEET, apiToken: TOKEN } });
  integration = created.body;
  heroku.deliverWebhooks((url) => url.replace('http://pulsebridge.test', stack.url));
});
afterAll(async () => {
  await stack?.stop();
  await heroku?.close();
  await slack?.close();
  rmSync(configDir, { recursive: true, force: true });
});

async function crash(app: string, dyno = 'web.1') {
  const body = dynoCrashBody(app, dyno);
  expect((await postWebhook(stack, integration.id, body, { secret: integration.secret })).status).toBe(202);
  return waitFor(async () => (await stack.sql<{ id: string; event_id: string }>("SELECT i.id, e.id AS event_id FROM incidents i, events e WHERE i.dedup_key = $1 AND e.event_id = $2", [`heroku:${app}:dyno:${dyno}`, JSON.parse(body).id]))[0], { what: `the incident of ${app} ${dyno}` });
}

const runsOf = (incidentId: string) => stack.sql<{ workflow: string; status: string; skipped_reason: string | null; actions: { action: string; status: string; error?: string; attempts?: number }[] }>('SELECT workflow, status, skipped_reason, actions FROM workflow_runs WHERE incident_id = $1 ORDER BY created_at', [incidentId]);
const settled = (incidentId: string, count: number) =>
  waitFor(async () => {
    const runs = await runsOf(incidentId);
    return runs.length >= count && runs.every((run) => run.status !== 'queued' && run.status !== 'running') && runs;
  }, { what: `${count} finished workflow runs`, timeoutMs: 20_000 });

describe('workflows', () => {
  let first: { id: string; event_id: string };

  it('a crash runs its workflow once: the dyno restarted, a Slack post in the thread, the severity lowered, all on the timeline', async () => {
    first = await crash('wf-app');
    const [run] = await settled(first.id, 1);
    expect(run).toMatchObject({ workflow: 'restart-crashed-dyno', status: 'succeeded' });
    expect(run!.actions.map((a) => `${a.action} ${a.status}`)).toEqual(['heroku.restart succeeded', 'slack.post succeeded', 'incident.set_severity succeeded']);
    expect(heroku.restarts('wf-app').map((r) => r.dyno)).toEqual(['web.1']);
    const post = await waitFor(() => slack.messages('ops').find((m) => m.text.startsWith('Restarted for')));
    expect(post.text).toBe('Restarted for Dyno web.1 crashed on wf-app (exit status 1)');
    expect(post.thread_ts).toBeDefined();
    const [incident] = await stack.sql<{ severity: string }>('SELECT severity::text FROM incidents WHERE id = $1', [first.id]);
    expect(incident!.severity).toBe('medium');
    const timeline = await stack.sql<{ kind: string; message: string }>("SELECT kind, message FROM timeline_entries WHERE incident_id = $1 AND kind IN ('workflow', 'action_run', 'severity') ORDER BY seq", [first.id]);
    expect(timeline.map((t) => t.kind)).toEqual(['action_run', 'severity', 'workflow']);
    expect(timeline[2]!.message).toMatch(/^Workflow restart-crashed-dyno ran on incident.triggered: heroku.restart succeeded \(\d+\.\d s\): restarted; slack.post succeeded/);
    const listed = await stack.call('GET', `/api/v1/workflow-runs?incidentId=${first.id}`);
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({ workflow: 'restart-crashed-dyno', trigger: 'incident.triggered', appName: 'wf-app', status: 'succeeded' });
  });

  it('with two workers, five crashes make five runs and five restarts', async () => {
    const incidents = await Promise.all(['wf-a', 'wf-b', 'wf-c', 'wf-d', 'wf-e'].map((app) => crash(app)));
    for (const incident of incidents) expect((await settled(incident.id, 1)).map((r) => r.status)).toEqual(['succeeded']);
    expect(heroku.restarts().filter((r) => /^wf-[a-e]$/.test(r.app)).map((r) => r.app).sort()).toEqual(['wf-a', 'wf-b', 'wf-c', 'wf-d', 'wf-e']);
  });

  it('two jobs of one run (a lost job queued again while the first waited) act once', async () => {
    const [incident] = await stack.sql<{ id: string }>("SELECT id FROM incidents WHERE app_name = 'wf-c' AND entity = 'dyno'");
    const before = heroku.restarts('wf-c').length;
    const [run] = await stack.sql<{ id: string }>(
      "INSERT INTO workflow_runs (workflow, trigger, trigger_key, incident_id, app_name) VALUES ('restart-crashed-dyno', 'incident.triggered', 'incident.triggered:twice', $1, 'wf-c') RETURNING id",
      [incident!.id],
    );
    await Promise.all([stack.runtime.queues.enqueueWorkflowRun(run!.id), stack.runtime.queues.enqueueWorkflowRun(run!.id, 'resume-1'), stack.runtime.queues.enqueueWorkflowRun(run!.id, 'resume-2')]);
    const done = await waitFor(async () => (await stack.sql<{ status: string }>("SELECT status FROM workflow_runs WHERE id = $1 AND status IN ('succeeded', 'failed')", [run!.id]))[0]);
    expect(done.status).toBe('succeeded');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(heroku.restarts('wf-c')).toHaveLength(before + 1);
    expect(await stack.sql("SELECT 1 FROM action_runs WHERE workflow_run_id = $1", [run!.id])).toHaveLength(1);
  });

  it("a run held by a live lease is left alone; one whose holder's lease ran out is resumed, and an action that may have acted is failed, not done again", async () => {
    const [incident] = await stack.sql<{ id: string }>("SELECT id FROM incidents WHERE app_name = 'wf-d' AND entity = 'dyno'");
    const before = heroku.restarts('wf-d').length;
    const started = JSON.stringify([{ action: 'heroku.restart', status: 'started', startedAt: new Date().toISOString() }]);
    const [held, orphaned] = await stack.sql<{ id: string }>(
      `INSERT INTO workflow_runs (workflow, trigger, trigger_key, incident_id, app_name, status, actions, claim_token, claimed_until, started_at)
       VALUES ('restart-crashed-dyno', 'incident.triggered', 'incident.triggered:held', $1, 'wf-d', 'running', $2, 'other-job', now() + interval '1 minute', now()),
              ('restart-crashed-dyno', 'incident.triggered', 'incident.triggered:orphaned', $1, 'wf-d', 'running', $2, 'dead-job', now() - interval '1 second', now())
       RETURNING id`,
      [incident!.id, started],
    );
    await stack.runtime.queues.enqueueWorkflowRun(held!.id);
    await stack.runtime.queues.enqueueWorkflowRun(orphaned!.id);
    const failed = await waitFor(async () => (await stack.sql<{ status: string; error: string; actions: { error?: string }[] }>("SELECT status, error, actions FROM workflow_runs WHERE id = $1 AND status = 'failed'", [orphaned!.id]))[0]);
    expect(failed.error).toBe('heroku.restart was interrupted');
    expect(failed.actions[0]!.error).toBe('the worker stopped while it ran; it was not run again, since it may have acted');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await stack.sql<{ status: string }>('SELECT status FROM workflow_runs WHERE id = $1', [held!.id]))[0]!.status).toBe('running');
    expect(heroku.restarts('wf-d')).toHaveLength(before);
  });

  it('a replayed event runs nothing again', async () => {
    const restarts = heroku.restarts().length;
    expect((await stack.call('POST', `/api/v1/events/${first.event_id}/replay`)).status).toBe(202);
    await waitFor(async () => (await stack.sql("SELECT 1 FROM events WHERE id = $1 AND status = 'processed' AND processed_at > now() - interval '5 seconds'", [first.event_id])).length > 0, { what: 'the replay applied' });
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await stack.sql('SELECT 1 FROM workflow_runs WHERE workflow = $1 AND app_name = $2', ['restart-crashed-dyno', 'wf-app'])).toHaveLength(1);
    expect(heroku.restarts()).toHaveLength(restarts);
  });

  it('inside its cool-down a workflow does not run again on the app, and says why', async () => {
    const second = await crash('wf-app', 'web.2');
    const [run] = await settled(second.id, 1);
    expect(run).toMatchObject({ workflow: 'restart-crashed-dyno', status: 'skipped' });
    expect(run!.skipped_reason).toMatch(/^cool-down: it ran on wf-app at .+, less than 10 min before$/);
    expect(heroku.restarts('wf-app')).toHaveLength(1);
  });

  it('a change an hour old when a worker first sees it starts nothing, and says so', async () => {
    const [incident] = await stack.sql<{ id: string }>("SELECT id FROM incidents WHERE app_name = 'wf-a' AND entity = 'dyno'");
    await stack.sql("INSERT INTO workflow_outbox (trigger, trigger_key, incident_id, created_at) VALUES ('incident.triggered', 'incident.triggered:long-ago', $1, now() - interval '2 hours')", [incident!.id]);
    const run = await waitFor(async () => (await stack.sql<{ status: string; skipped_reason: string }>("SELECT status, skipped_reason FROM workflow_runs WHERE trigger_key = 'incident.triggered:long-ago'"))[0], { what: 'the stale run' });
    expect(run).toEqual({ status: 'skipped', skipped_reason: 'stale: the change was 120 min old when a worker first saw it' });
  });

  it('a workflow acknowledges known noise, and the acknowledgement runs the workflows on incident.acknowledged (payload text escaped in Slack)', async () => {
    // A dyno name no Heroku app has, holding a mention: it reaches Slack escaped.
    const noisy = await crash('wf-noisy', '<!here>.1');
    const runs = await settled(noisy.id, 2);
    expect(runs.map((r) => `${r.workflow} ${r.status}`)).toEqual(['acknowledge-noise succeeded', 'note-acknowledged succeeded']);
    const [incident] = await stack.sql<{ status: string; acknowledged_by: string }>('SELECT status::text, acknowledged_by FROM incidents WHERE id = $1', [noisy.id]);
    expect(incident).toEqual({ status: 'acknowledged', acknowledged_by: 'workflow acknowledge-noise' });
    const note = await waitFor(() => slack.messages('ops').find((m) => m.text.startsWith('Acknowledged #')), { what: 'the note' });
    expect(note.text).toMatch(/^Acknowledged #\d+ on wf-noisy: Dyno &lt;!here&gt;\.1 crashed on wf-noisy \(exit status 1\)$/);
  });

  it('a release makes a pulse, and its workflow posts to the channel it names', async () => {
    const release = heroku.addRelease('wf-app', { description: 'Deploy 5e5e5e5' });
    await heroku.announceRelease(release);
    await waitFor(() => slack.messages('deploys').some((m) => m.text === '[Heroku][Release] Deploy 5e5e5e5'), { what: 'the workflow post in #deploys' });
    const run = await waitFor(async () => (await stack.sql<{ status: string; trigger: string }>("SELECT status, trigger FROM workflow_runs WHERE workflow = 'announce-release' AND status <> 'running'"))[0]);
    expect(run).toEqual({ status: 'succeeded', trigger: 'pulse.created' });
  });

  it('a failing action fails its run, and holds up no other workflow', async () => {
    const broken = await crash('wf-broken');
    const runs = await settled(broken.id, 2);
    const byName = Object.fromEntries(runs.map((r) => [r.workflow, r]));
    expect(byName['post-nowhere']).toMatchObject({ status: 'failed' });
    expect(byName['post-nowhere']!.actions[0]).toMatchObject({ action: 'slack.post', status: 'failed', error: 'Slack has no channel #nowhere the bot is in' });
    expect(byName['restart-crashed-dyno']).toMatchObject({ status: 'succeeded' });
  });

  it('admins see the workflows as written and their recent runs; the REST API shows the file', async () => {
    const admin = await signInUi(stack);
    const page = await (await fetch(`${stack.url}/workflows`, { headers: { cookie: admin.cookie } })).text();
    expect(page).toContain('restart-crashed-dyno <span class="pill succeeded">enabled</span>');
    expect(page).toContain('switched-off <span class="pill">off</span>');
    expect(page).toContain('cool-down: it ran on wf-app');
    expect(page).toContain('Acknowledged #{{ incident.number }} on {{ app.name }}: {{ incident.title }}');
    const listed = await stack.call('GET', '/api/v1/workflows');
    expect(listed.body.items.map((w: { name: string; enabled: boolean }) => `${w.name}:${w.enabled}`)).toEqual([
      'restart-crashed-dyno:true',
      'acknowledge-noise:true',
      'note-acknowledged:true',
      'announce-release:true',
      'post-nowhere:true',
      'diagnose:true',
      'rollback-on-repeat:true',
      'note-resolved:true',
      'switched-off:false',
    ]);
    const responderToken = (await stack.call('POST', '/api/v1/tokens', { body: { name: 'wf responder', role: 'responder' } })).body.token;
    const responder = await signInUi(stack, responderToken);
    expect((await fetch(`${stack.url}/workflows`, { headers: { cookie: responder.cookie }, redirect: 'manual' })).status).toBe(403);
  });

  it('a command on a one-off dyno when triggered, a rollback of the suspect deploy when the alert repeats, a post when resolved', async () => {
    const v1 = heroku.addRelease('wf-rb', { description: 'Deploy 0000001' });
    await heroku.announceRelease(v1);
    const v2 = heroku.addRelease('wf-rb', { description: 'Deploy 0000002' });
    await heroku.announceRelease(v2);
    await waitFor(async () => (await stack.sql("SELECT 1 FROM pulses WHERE app_name = 'wf-rb' AND kind = 'release'")).length === 2, { what: 'both release pulses' });
    const incident = await crash('wf-rb');
    const [diagnose] = await settled(incident.id, 1);
    expect(diagnose).toMatchObject({ workflow: 'diagnose', status: 'succeeded' });
    expect(diagnose!.actions[0]).toMatchObject({ action: 'heroku.run', status: 'succeeded' });
    const [run] = await stack.sql<{ output: string; requested_by: string; workflow_run_id: string | null }>("SELECT output, requested_by, workflow_run_id FROM action_runs WHERE incident_id = $1 AND kind = 'run'", [incident.id]);
    expect(run).toMatchObject({ output: 'diagnosing wf-rb\n', requested_by: 'workflow diagnose' });
    expect(run!.workflow_run_id).not.toBeNull();

    // The same dyno crashes again: the alert groups into the open incident, and its workflow rolls back.
    await crash('wf-rb');
    const runs = await settled(incident.id, 2);
    expect(runs[1]).toMatchObject({ workflow: 'rollback-on-repeat', status: 'succeeded' });
    expect(heroku.releases('wf-rb').at(-1)).toMatchObject({ version: 3, description: 'Rollback to v1' });

    expect((await stack.call('POST', `/api/v1/incidents/${incident.id}/resolve`)).status).toBe(200);
    expect((await settled(incident.id, 3))[2]).toMatchObject({ workflow: 'note-resolved', status: 'succeeded' });
    await waitFor(() => slack.messages('ops').some((m) => m.text === 'Resolved: Dyno web.1 crashed on wf-rb (exit status 1)'), { what: 'the post on resolve' });
  });
});
