import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileDefaultEscalation, createSlackClient, escalateOnce, loadDefaultEscalation, type EscalatorDeps } from '@pulsebridge/core';
import { dynoCrashBody } from '../support/fixtures.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { CONFIG_DIR, createIntegration, postWebhook, signInUi, slackSettings, startTestStack, waitFor, workerProcessEnv, type TestStack } from '../support/stack.js';

// Escalation until acknowledged, against a fake Slack: the passes are run by the test (the
// worker's own loop is off), so "the delay passed" is a row set due.

let slack: FakeSlack;
let stack: TestStack;
let integration: { id: string; secret: string };
let escalator: EscalatorDeps;
let serviceId: string;

beforeAll(async () => {
  slack = await startFakeSlack();
  stack = await startTestStack({ config: slackSettings(slack, { SLACK_CHANNEL_INTERVAL_MS: '20' }) });
  stack.startWorker({ reconcile: false });
  integration = await createIntegration(stack, ['esc-app', 'esc-unclaimed']);
  const service = await stack.call('POST', '/api/v1/services', { body: { name: `checkout ${randomUUID().slice(0, 6)}`, herokuAppNames: ['esc-app'], slackChannels: ['#ops'] } });
  serviceId = service.body.id;
  const put = await stack.call('PUT', `/api/v1/services/${serviceId}/escalation`, {
    body: { minSeverity: 'high', levels: [{ targets: ['U0AAAAAA1'], delayMinutes: 10 }, { targets: ['S0BBBBBB2', 'W0CCCCCC3'], delayMinutes: 15 }], repeatEveryMinutes: 30 },
  });
  expect(put.status).toBe(200);
  escalator = { pool: stack.runtime.db.pool, slack: createSlackClient({ botToken: slack.token, apiUrl: slack.apiUrl })!, logger: stack.runtime.logger, publicUrl: 'http://pulsebridge.test' };
});
afterAll(async () => {
  await stack?.stop();
  await slack?.close();
});

/** A crash of `dyno` (web: critical, else high) whose message is in #ops; returns the incident id. */
async function crash(dyno: string) {
  expect((await postWebhook(stack, integration.id, dynoCrashBody('esc-app', dyno), { secret: integration.secret })).status).toBe(202);
  const [incident] = await waitFor(async () => {
    const rows = await stack.sql<{ id: string }>("SELECT i.id FROM incidents i JOIN slack_messages m ON m.incident_id = i.id WHERE i.dedup_key = $1 AND m.ts IS NOT NULL", [`heroku:esc-app:dyno:${dyno}`]);
    return rows.length > 0 && rows;
  }, { what: `the message of ${dyno}'s incident` });
  return incident!.id;
}
const makeDue = (incidentId: string) => stack.sql('UPDATE incident_escalations SET next_at = now() WHERE incident_id = $1', [incidentId]);
const mentionsOf = async (incidentId: string) => {
  const [thread] = await stack.sql<{ ts: string }>('SELECT ts FROM slack_messages WHERE incident_id = $1', [incidentId]);
  return slack.messages('ops').filter((m) => m.thread_ts === thread!.ts && m.text.startsWith('Escalated')).map((m) => m.text);
};

describe('escalation', () => {
  it('mentions level 1 in the thread at once, level 2 when the delay passes unacknowledged, then the last level again', async () => {
    const incident = await crash('web.1');
    expect(await escalateOnce(escalator)).toBe(1);
    expect(await mentionsOf(incident)).toEqual(['Escalated to level 1: <@U0AAAAAA1>']);
    expect(await escalateOnce(escalator)).toBe(0);
    const [state] = await stack.sql<{ due_in: number }>('SELECT extract(epoch FROM next_at - now())::int AS due_in FROM incident_escalations WHERE incident_id = $1', [incident]);
    expect(state!.due_in).toBeGreaterThan(9 * 60);
    await makeDue(incident);
    await escalateOnce(escalator);
    await makeDue(incident);
    await escalateOnce(escalator);
    expect(await mentionsOf(incident)).toEqual([
      'Escalated to level 1: <@U0AAAAAA1>',
      'Escalated to level 2: <!subteam^S0BBBBBB2> <@W0CCCCCC3>',
      'Escalated to level 2: <!subteam^S0BBBBBB2> <@W0CCCCCC3> (again: no one has acknowledged)',
    ]);
    const timeline = await stack.sql<{ message: string }>("SELECT message FROM timeline_entries WHERE incident_id = $1 AND kind = 'escalated' ORDER BY seq", [incident]);
    expect(timeline).toHaveLength(3);
  });

  it('an acknowledgement stops it: nobody is mentioned after it', async () => {
    const incident = await crash('web.2');
    await escalateOnce(escalator);
    expect((await stack.call('POST', `/api/v1/incidents/${incident}/acknowledge`)).status).toBe(200);
    await makeDue(incident);
    await escalateOnce(escalator);
    expect(await mentionsOf(incident)).toEqual(['Escalated to level 1: <@U0AAAAAA1>']);
    expect((await stack.sql<{ stop_reason: string }>('SELECT stop_reason FROM incident_escalations WHERE incident_id = $1', [incident]))[0]!.stop_reason).toBe('acknowledged');
  });

  it('an acknowledgement racing a due level waits for the mention being posted, and none comes after it', async () => {
    const incident = await crash('web.3');
    await escalateOnce(escalator);
    await makeDue(incident);
    slack.delayNextResponse('chat.postMessage', 600);
    const pass = escalateOnce(escalator);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const ack = await stack.call('POST', `/api/v1/incidents/${incident}/acknowledge`);
    expect(ack.status).toBe(200);
    await pass;
    // The acknowledgement waited for the level-2 mention to be recorded: it comes after it.
    const order = await stack.sql<{ kind: string }>("SELECT kind FROM timeline_entries WHERE incident_id = $1 AND kind IN ('escalated', 'acknowledged') ORDER BY seq", [incident]);
    expect(order.map((e) => e.kind)).toEqual(['escalated', 'escalated', 'acknowledged']);
    await makeDue(incident);
    await escalateOnce(escalator);
    expect(await mentionsOf(incident)).toHaveLength(2);
  });

  it('a pass Slack fails (a 5xx) leaves the level due a little later, and the next pass mentions it once', async () => {
    const incident = await crash('web.4');
    slack.failNext('chat.postMessage', 1, { kind: 'http', status: 500 });
    expect(await escalateOnce(escalator)).toBe(0);
    expect(await stack.sql("SELECT 1 FROM timeline_entries WHERE incident_id = $1 AND kind = 'escalated'", [incident])).toEqual([]);
    expect(await escalateOnce(escalator)).toBe(0);
    await makeDue(incident);
    await escalateOnce(escalator);
    expect(await mentionsOf(incident)).toEqual(['Escalated to level 1: <@U0AAAAAA1>']);
  });

  it('a thread Slack will never take stops that escalation alone: the others go on', async () => {
    const broken = await crash('web.5');
    await stack.sql("UPDATE slack_messages SET channel = 'C0GONE0001' WHERE incident_id = $1", [broken]);
    const fine = await crash('web.6');
    await escalateOnce(escalator);
    expect(await mentionsOf(fine)).toEqual(['Escalated to level 1: <@U0AAAAAA1>']);
    expect((await stack.sql<{ stop_reason: string }>('SELECT stop_reason FROM incident_escalations WHERE incident_id = $1', [broken]))[0]!.stop_reason).toBe('Slack refused every thread (channel_not_found)');
  });

  it('an incident its service does not post (below postMinSeverity) starts no escalation', async () => {
    await stack.call('PATCH', `/api/v1/services/${serviceId}`, { body: { postMinSeverity: 'critical' } });
    try {
      expect((await postWebhook(stack, integration.id, dynoCrashBody('esc-app', 'worker.5'), { secret: integration.secret })).status).toBe(202);
      const [quiet] = await waitFor(async () => {
        const rows = await stack.sql<{ id: string }>("SELECT id FROM incidents WHERE dedup_key = 'heroku:esc-app:dyno:worker.5'");
        return rows.length > 0 && rows;
      });
      await escalateOnce(escalator);
      expect(await stack.sql('SELECT 1 FROM incident_escalations WHERE incident_id = $1', [quiet!.id])).toEqual([]);
    } finally {
      await stack.call('PATCH', `/api/v1/services/${serviceId}`, { body: { postMinSeverity: 'info' } });
    }
  });

  it('with directMessages, each mentioned user (not a group) is also told directly, the title escaped', async () => {
    await stack.call('PUT', `/api/v1/services/${serviceId}/escalation`, { body: { minSeverity: 'high', levels: [{ targets: ['U0DMDMDM1', 'S0GROUP01'], delayMinutes: 10 }], directMessages: true } });
    const incident = await crash('<!channel>.1');
    await escalateOnce(escalator);
    const [row] = await stack.sql<{ number: number }>('SELECT number FROM incidents WHERE id = $1', [incident]);
    expect(slack.messages('U0DMDMDM1').map((m) => m.text)).toEqual([`You are on call for incident #${row!.number}: Dyno &lt;!channel&gt;.1 crashed on esc-app (exit status 1). Nobody has acknowledged it yet. <http://pulsebridge.test/incidents/${incident}|Open it>`]);
    expect((await stack.call('GET', `/api/v1/services/${serviceId}/escalation`)).body.directMessages).toBe(true);
  });

  it('only incidents at or above the policy’s severity escalate', async () => {
    await stack.call('PUT', `/api/v1/services/${serviceId}/escalation`, { body: { minSeverity: 'critical', levels: [{ targets: ['U0AAAAAA1'], delayMinutes: 10 }] } });
    const worker = await crash('worker.1'); // high: below critical
    await escalateOnce(escalator);
    expect(await stack.sql('SELECT 1 FROM incident_escalations WHERE incident_id = $1', [worker])).toEqual([]);
  });

  it('refuses ids that are not Slack user or group ids, and unknown services', async () => {
    for (const targets of [['@here'], ['<!channel>'], ['u0aaaaaa1'], ['C0AAAAAA1'], []]) {
      const refused = await stack.call('PUT', `/api/v1/services/${serviceId}/escalation`, { body: { minSeverity: 'high', levels: [{ targets, delayMinutes: 5 }] } });
      expect(refused.status, JSON.stringify(targets)).toBe(400);
    }
    expect((await stack.call('PUT', `/api/v1/services/${randomUUID()}/escalation`, { body: { minSeverity: 'high', levels: [{ targets: ['U0AAAAAA1'], delayMinutes: 5 }] } })).status).toBe(404);
    expect((await stack.call('GET', `/api/v1/services/${serviceId}/escalation`)).body).toMatchObject({ minSeverity: 'critical', levels: [{ targets: ['U0AAAAAA1'], delayMinutes: 10 }], repeatEveryMinutes: null, directMessages: false });
    expect((await stack.call('DELETE', `/api/v1/services/${serviceId}/escalation`)).status).toBe(204);
    expect((await stack.call('GET', `/api/v1/services/${serviceId}/escalation`)).body).toBeNull();
  });

  it('admins set and remove it on the service page, one level a line', async () => {
    const admin = await signInUi(stack);
    const post = (path: string, fields: Record<string, string>) =>
      fetch(`${stack.url}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie: admin.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: admin.csrf, ...fields }) });
    const notice = async (response: Response) => decodeURIComponent(response.headers.get('location') ?? '');
    expect(await notice(await post(`/services/${serviceId}/escalation`, { minSeverity: 'high', levels: 'U0AAAAAA1 soon' }))).toContain('Write one level a line');
    expect(await notice(await post(`/services/${serviceId}/escalation`, { minSeverity: 'high', levels: '<!channel> after 5 min' }))).toContain('Escalation not saved: levels.0.targets.0 is not a Slack user id');
    expect(await notice(await post(`/services/${serviceId}/escalation`, { minSeverity: 'medium', levels: 'U0AAAAAA1 after 10 min\nS0BBBBBB2, W0CCCCCC3 after 20', repeatEveryMinutes: '30' }))).toContain('Escalation saved.');
    expect((await stack.call('GET', `/api/v1/services/${serviceId}/escalation`)).body).toMatchObject({
      minSeverity: 'medium',
      levels: [{ targets: ['U0AAAAAA1'], delayMinutes: 10 }, { targets: ['S0BBBBBB2', 'W0CCCCCC3'], delayMinutes: 20 }],
      repeatEveryMinutes: 30,
    });
    const page = await (await fetch(`${stack.url}/services/${serviceId}`, { headers: { cookie: admin.cookie } })).text();
    expect(page).toContain('S0BBBBBB2, W0CCCCCC3 · then 20 min to acknowledge');
    expect(page).toContain('U0AAAAAA1 after 10 min\nS0BBBBBB2 W0CCCCCC3 after 20 min</textarea>');
    expect(await notice(await post(`/services/${serviceId}/escalation/delete`, {}))).toContain('Escalation removed');
    expect((await stack.call('GET', `/api/v1/services/${serviceId}/escalation`)).body).toBeNull();
  });

  it("escalation.yaml's default covers incidents no service policy covers, and a bad file names the field", async () => {
    expect(loadDefaultEscalation(CONFIG_DIR).policy).toBeNull();
    const fallback = compileDefaultEscalation('default:\n  min_severity: critical\n  levels:\n    - {targets: [S0DDDDDD4], delay_minutes: 5}\n', 'escalation.yaml');
    expect(() => compileDefaultEscalation('default:\n  min_severity: critical\n  levels:\n    - {targets: ["@here"], delay_minutes: 5}\n', 'escalation.yaml')).toThrow(
      'escalation.yaml: default.levels.0.targets.0 is not a Slack user id (U…, W…) or user group id (S…)',
    );
    expect((await postWebhook(stack, integration.id, dynoCrashBody('esc-unclaimed', 'web.1'), { secret: integration.secret })).status).toBe(202);
    const [incident] = await waitFor(async () => {
      const rows = await stack.sql<{ id: string; ts: string }>("SELECT i.id, m.ts FROM incidents i JOIN slack_messages m ON m.incident_id = i.id WHERE i.app_name = 'esc-unclaimed' AND m.ts IS NOT NULL");
      return rows.length > 0 && rows;
    });
    await escalateOnce({ ...escalator, defaultPolicy: fallback.policy });
    expect(slack.messages('general').filter((m) => m.thread_ts === incident!.ts).map((m) => m.text)).toEqual(['Escalated to level 1: <!subteam^S0DDDDDD4>']);
  });

  it('a worker killed while mentioning a due level: the next worker mentions it, recorded once', async () => {
    await stack.call('PUT', `/api/v1/services/${serviceId}/escalation`, { body: { minSeverity: 'high', levels: [{ targets: ['U0AAAAAA1'], delayMinutes: 10 }, { targets: ['U0KILLED2'], delayMinutes: 10 }] } });
    const incident = await crash('web.9');
    await escalateOnce(escalator);
    await makeDue(incident);
    const WORKER = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../apps/worker/dist/main.js');
    const env = workerProcessEnv(stack, { SLACK_BOT_TOKEN: slack.token, SLACK_API_URL: slack.apiUrl, SLACK_DEFAULT_CHANNEL: '#general', ESCALATION_INTERVAL_MS: '100' });
    const start = () => spawn(process.execPath, [WORKER], { env, stdio: 'ignore' });
    let worker: ChildProcess = start();
    try {
      // Slack takes long to answer the mention: the worker is killed while it waits.
      slack.delayNextResponse('chat.postMessage', 10_000);
      await waitFor(() => slack.callsOf('chat.postMessage').some((c) => String(c.params.text).includes('U0KILLED2')), { what: 'the first worker posting', timeoutMs: 15_000 });
      worker.kill('SIGKILL');
      await new Promise((resolve) => worker.once('exit', resolve));
      expect(await stack.sql("SELECT 1 FROM timeline_entries WHERE incident_id = $1 AND message LIKE '%U0KILLED2%'", [incident])).toEqual([]);
      worker = start();
      await waitFor(async () => (await stack.sql("SELECT 1 FROM timeline_entries WHERE incident_id = $1 AND message LIKE '%U0KILLED2%'", [incident])).length === 1, { what: 'the next worker mentioning it', timeoutMs: 15_000 });
      expect((await mentionsOf(incident)).filter((text) => text.includes('U0KILLED2')).length).toBeGreaterThanOrEqual(1);
    } finally {
      worker.kill('SIGKILL');
    }
  });
});
