import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoResolveDueIncidents, compileRules } from '@pulsebridge/core';
import { dynoCrashBody } from '../support/fixtures.js';
import { CONFIG_DIR, createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

// Auto-resolve per rule: an incident resolves itself after its rule's quiet minutes.

const RULES = `
rules:
  - name: web-crashed
    entity: dyno
    when: dyno.outcome == "crashed" and dyno.type == "web"
    incident:
      action: trigger
      severity: high
      dedup_key: "heroku:{{ app_name }}:dyno:{{ dyno.name }}"
      title: "Dyno {{ dyno.name }} crashed on {{ app_name }}"
      auto_resolve_minutes: 5
  - name: worker-crashed
    entity: dyno
    when: dyno.outcome == "crashed" and dyno.type == "worker"
    incident:
      action: trigger
      severity: high
      dedup_key: "heroku:{{ app_name }}:dyno:{{ dyno.name }}"
      title: "Dyno {{ dyno.name }} crashed on {{ app_name }}"
`;

let stack: TestStack;
let configDir: string;
let integration: { id: string; secret: string };

beforeAll(async () => {
  configDir = mkdtempSync(path.join(tmpdir(), 'pb-auto-resolve-'));
  cpSync(CONFIG_DIR, configDir, { recursive: true });
  writeFileSync(path.join(configDir, 'rules.yaml'), RULES);
  stack = await startTestStack({ config: { CONFIG_DIR: configDir, AUTO_RESOLVE_INTERVAL_MS: '200' } });
  // No reconciler (and so no auto-resolver) in the background: the test runs the passes itself.
  stack.startWorker({ reconcile: false });
  integration = await createIntegration(stack, ['quiet-app']);
});
afterAll(async () => {
  await stack?.stop();
  rmSync(configDir, { recursive: true, force: true });
});

async function crash(dyno: string) {
  expect((await postWebhook(stack, integration.id, dynoCrashBody('quiet-app', dyno), { secret: integration.secret })).status).toBe(202);
}
const incidentOf = (dyno: string) => stack.sql<{ id: string; status: string; alert_count: number; resolved_by: string | null; auto_resolve_minutes: number | null }>('SELECT id, status::text, alert_count, resolved_by, auto_resolve_minutes FROM incidents WHERE dedup_key = $1', [`heroku:quiet-app:dyno:${dyno}`]);
const quietFor = (dyno: string, minutes: number) => stack.sql(`UPDATE incidents SET last_alert_at = now() - make_interval(mins => $2) WHERE dedup_key = $1`, [`heroku:quiet-app:dyno:${dyno}`, minutes]);

describe('auto-resolve', () => {
  it('an incident resolves itself once its rule’s minutes pass without a new alert, saying so on the timeline', async () => {
    await crash('web.1');
    const [incident] = await waitFor(async () => (await incidentOf('web.1')).length > 0 && incidentOf('web.1'));
    expect(incident).toMatchObject({ status: 'triggered', auto_resolve_minutes: 5 });
    expect(await autoResolveDueIncidents(stack.runtime.db.pool)).toEqual([]);
    await quietFor('web.1', 4);
    expect(await autoResolveDueIncidents(stack.runtime.db.pool)).toEqual([]);
    await quietFor('web.1', 6);
    expect((await autoResolveDueIncidents(stack.runtime.db.pool)).map((r) => r.id)).toEqual([incident!.id]);
    expect((await incidentOf('web.1'))[0]).toMatchObject({ status: 'resolved', resolved_by: 'pulsebridge (auto-resolve)' });
    const entries = await stack.sql<{ kind: string; message: string }>("SELECT kind, message FROM timeline_entries WHERE incident_id = $1 AND kind = 'auto_resolved'", [incident!.id]);
    expect(entries).toEqual([{ kind: 'auto_resolved', message: 'Resolved: no new alert for 5 min' }]);
  });

  it('a new alert keeps it open: its minutes count from the last alert', async () => {
    await crash('web.2');
    await waitFor(async () => (await incidentOf('web.2')).length > 0);
    await quietFor('web.2', 6);
    await crash('web.2');
    await waitFor(async () => (await incidentOf('web.2'))[0]?.alert_count === 2);
    expect(await autoResolveDueIncidents(stack.runtime.db.pool)).toEqual([]);
    expect((await incidentOf('web.2'))[0]!.status).toBe('triggered');
  });

  it('an incident whose rule gives no minutes never resolves itself, and a rule cannot give zero', async () => {
    await crash('worker.1');
    await waitFor(async () => (await incidentOf('worker.1')).length > 0);
    await stack.sql("UPDATE incidents SET last_alert_at = now() - interval '30 days' WHERE dedup_key = 'heroku:quiet-app:dyno:worker.1'");
    await autoResolveDueIncidents(stack.runtime.db.pool);
    expect((await incidentOf('worker.1'))[0]).toMatchObject({ status: 'triggered', auto_resolve_minutes: null });
    expect(() => compileRules(RULES.replace('auto_resolve_minutes: 5', 'auto_resolve_minutes: 0'), 'rules.yaml')).toThrow(/rules\.yaml: rule "web-crashed": incident/);
  });

  it('workers resolve due incidents by themselves, and the resolution reaches the incident', async () => {
    await crash('web.3');
    await waitFor(async () => (await incidentOf('web.3')).length > 0);
    const workers = stack.startWorker();
    try {
      await quietFor('web.3', 6);
      await waitFor(async () => (await incidentOf('web.3'))[0]?.status === 'resolved', { what: 'the background pass' });
    } finally {
      await workers.close();
    }
  });
});
