import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_DIR, createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

// The `failures-only` preset, selected the way a user would: a config folder whose rules.yaml names it.
let configDir: string;
let stack: TestStack;
let integration: { id: string; secret: string };

beforeAll(async () => {
  configDir = mkdtempSync(path.join(tmpdir(), 'pulsebridge-config-'));
  writeFileSync(path.join(configDir, 'rules.yaml'), 'preset: failures-only\n');
  copyFileSync(path.join(CONFIG_DIR, 'slack.yaml'), path.join(configDir, 'slack.yaml'));
  stack = await startTestStack({ config: { CONFIG_DIR: configDir } });
  integration = await createIntegration(stack, ['ordering', 'noted']);
  stack.startWorker();
});
afterAll(async () => {
  await stack?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

const at = (minutes: number) => new Date(Date.UTC(2026, 10, 24, 10, 0, 0) + minutes * 60_000).toISOString();

function release(minute: number, options: { id: string; status: string; current: boolean; action?: string; version: number }) {
  const data = { id: options.id, app: { name: 'ordering' }, status: options.status, current: options.current, version: options.version, description: 'Deploy 1a2b3c4d', slug: { commit: '1a2b3c4d5e6f7a8b' } };
  return { id: randomUUID(), resource: 'release', action: options.action ?? 'update', data, actor: { email: 'alice@example.com' }, created_at: at(minute), updated_at: at(minute) };
}

/** Posts events in order and waits until the worker has applied every one. */
async function deliver(...events: { id: string }[]) {
  for (const event of events) expect((await postWebhook(stack, integration.id, JSON.stringify(event), { secret: integration.secret })).status).toBe(202);
  const ids = events.map((event) => event.id);
  await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1) AND status IN ('processed', 'skipped', 'failed')", [ids]))[0].n === ids.length, {
    what: 'events applied',
    timeoutMs: 20_000,
  });
}

const incidents = (dedupKey: string) =>
  stack.sql('SELECT id, status::text, alert_count, severity::text, title, resolved_by FROM incidents WHERE dedup_key = $1 ORDER BY triggered_at, number', [dedupKey]);

describe('preset failures-only', () => {
  it('a successful release is a pulse, not an incident; a failed one triggers, and its later success adds no alert', async () => {
    const ok = randomUUID();
    await deliver(release(-10, { id: ok, status: 'pending', current: false, action: 'create', version: 6 }), release(-9, { id: ok, status: 'succeeded', current: true, version: 6 }));
    expect(await incidents(`heroku:ordering:release:${ok}`)).toEqual([]);
    const id = randomUUID();
    await deliver(release(0, { id, status: 'pending', current: false, action: 'create', version: 7 }));
    await deliver(release(1, { id, status: 'failed', current: false, version: 7 }));
    await deliver(release(2, { id, status: 'succeeded', current: true, version: 7 }));
    const [incident] = await incidents(`heroku:ordering:release:${id}`);
    expect(incident).toMatchObject({ status: 'triggered', alert_count: 1, severity: 'high', title: 'Release v7 failed on ordering: Deploy 1a2b3c4d' });
    const pulses = await stack.call('GET', '/api/v1/pulses?appName=ordering&kind=release');
    expect(pulses.body.items.map((p: { version: string; status: string }) => `${p.version} ${p.status}`)).toEqual(['v7 succeeded', 'v7 failed', 'v7 pending', 'v6 succeeded', 'v6 pending']);
  });

  it('informational changes are notes: incidents resolved on arrival, one per change, never grouped and never reopened', async () => {
    const scale = (quantity: number, minute: number) => ({
      id: randomUUID(),
      resource: 'formation',
      action: 'update',
      data: { app: { name: 'noted' }, type: 'web', quantity, size: 'Standard-1X' },
      previous_data: { quantity: quantity - 1 },
      created_at: at(minute),
      updated_at: at(minute),
    });
    await deliver(scale(2, 0), scale(3, 1));
    const notes = await incidents('heroku:noted:formation:web');
    expect(notes).toMatchObject([
      { status: 'resolved', alert_count: 1, severity: 'low', title: 'Formation web scaled 1 -> 2 on noted', resolved_by: 'heroku (formation-changed)' },
      { status: 'resolved', alert_count: 1, severity: 'low', title: 'Formation web scaled 2 -> 3 on noted', resolved_by: 'heroku (formation-changed)' },
    ]);
    const detail = await stack.call('GET', `/api/v1/incidents/${notes[0].id}`);
    expect(detail.body.timeline.map((t: { kind: string; message: string }) => `${t.kind}: ${t.message}`)).toEqual([
      'triggered: Noted: Formation web scaled 1 -> 2 on noted',
      'resolved: Resolved on arrival: an informational change, recorded without paging',
    ]);
    expect(detail.body).toMatchObject({ status: 'resolved', resolvedAt: expect.any(String) });
  });
});
