import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

let stack: TestStack;
let integration: { id: string; secret: string };
const APPS = ['shop-web', 'shop-api', 'billing', 'ordering', 'racy', 'replayed', 'suspect', 'manual', 'linked', 'Linked-Case', 'pulses-app', 'deploys', 'suspect-web', 'suspect-worker', 'suspect-other', 'suspect-builds', 'later-web', 'later-api'];

beforeAll(async () => {
  stack = await startTestStack();
  integration = await createIntegration(stack, APPS);
  stack.startWorker();
});
afterAll(async () => stack?.stop());

const at = (minutes: number) => new Date(Date.UTC(2026, 10, 24, 10, 0, 0) + minutes * 60_000).toISOString();

function dyno(app: string, name: string, state: string, minute: number, extra: Record<string, unknown> = {}) {
  const id = randomUUID();
  return { id, data: { app: { name: app }, name, state, management: 'formation', exit_status: state === 'crashed' ? 1 : null, ...extra }, created_at: at(minute), webhook_metadata: { event: { id, include: 'dyno' } } };
}

function build(app: string, status: string, minute: number, buildId: string = randomUUID(), releaseId: string | null = null) {
  return {
    id: randomUUID(),
    resource: 'build',
    action: status === 'pending' ? 'create' : 'update',
    data: { id: buildId, app: { name: app }, status, source_blob: { version: '1a2b3c4d5e6f' }, release: releaseId ? { id: releaseId, version: 42 } : null },
    actor: { email: 'alice@example.com' },
    created_at: at(minute),
    updated_at: at(minute),
  };
}

function release(app: string, minute: number, options: { id?: string; status?: string; current?: boolean; action?: string; version?: number } = {}) {
  return {
    id: randomUUID(),
    resource: 'release',
    action: options.action ?? 'update',
    data: {
      id: options.id ?? randomUUID(),
      app: { name: app },
      status: options.status ?? 'succeeded',
      current: options.current ?? true,
      version: options.version ?? 42,
      description: 'Deploy 1a2b3c4d',
      slug: { commit: '1a2b3c4d5e6f7a8b' },
    },
    actor: { email: 'alice@example.com' },
    created_at: at(minute),
    updated_at: at(minute),
  };
}

/** Posts events in order and waits until the worker has applied every one. */
async function deliver(...events: { id: string }[]) {
  for (const event of events) {
    const response = await postWebhook(stack, integration.id, JSON.stringify(event), { secret: integration.secret });
    expect(response.status).toBe(202);
  }
  await settle(events.map((e) => e.id));
}

async function settle(ids: string[]) {
  await waitFor(async () => {
    const rows = await stack.sql("SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1) AND status IN ('processed', 'skipped', 'failed')", [ids]);
    return rows[0].n === new Set(ids).size;
  }, { what: 'events applied', timeoutMs: 20_000 });
}

async function incidents(dedupKey: string) {
  return stack.sql('SELECT id, status::text, alert_count, severity::text, title, resolved_by FROM incidents WHERE dedup_key = $1 ORDER BY number', [dedupKey]);
}

describe('builds', () => {
  it('a failed build opens an incident that the next successful build resolves, with a pulse per outcome', async () => {
    await deliver(build('billing', 'pending', 0, 'b1'), build('billing', 'failed', 2, 'b1'));
    expect(await incidents('heroku:billing:build')).toMatchObject([{ status: 'triggered', alert_count: 1, severity: 'high', title: 'Build failed on billing (1a2b3c4)' }]);
    await deliver(build('billing', 'succeeded', 10, 'b2'));
    expect(await incidents('heroku:billing:build')).toMatchObject([{ status: 'resolved', resolved_by: 'heroku (build-succeeded)' }]);
    const pulses = await stack.call('GET', '/api/v1/pulses?appName=billing');
    expect(pulses.body.items.map((p: { summary: string }) => p.summary)).toEqual([
      '[Heroku][Build] billing succeeded',
      '[Heroku][Build] billing failed',
      '[Heroku][Build] billing pending',
    ]);
    expect(pulses.body.items[0]).toMatchObject({ kind: 'build', commitSha: '1a2b3c4d5e6f', actorEmail: 'alice@example.com', externalId: 'b2', status: 'succeeded' });
  });
});

describe('releases', () => {
  it('a release that fails after an informational alert raises the open incident to high and retitles it; a later lower alert leaves both', async () => {
    const id = randomUUID();
    await deliver(release('ordering', 0, { id, status: 'pending', current: false, action: 'create', version: 7 }));
    expect(await incidents(`heroku:ordering:release:${id}`)).toMatchObject([{ severity: 'info', alert_count: 1 }]);
    await deliver(release('ordering', 1, { id, status: 'failed', current: false, version: 7 }));
    await deliver(release('ordering', 2, { id, status: 'succeeded', current: true, version: 7 }));
    const [incident] = await incidents(`heroku:ordering:release:${id}`);
    expect(incident).toMatchObject({ status: 'triggered', alert_count: 3, severity: 'high', title: 'Release v7 failed on ordering: Deploy 1a2b3c4d' });
    const detail = await stack.call('GET', `/api/v1/incidents/${incident.id}`);
    const entries = detail.body.timeline.filter((t: { kind: string }) => t.kind !== 'suspect_deploy');
    expect(entries.map((t: { kind: string; message: string }) => `${t.kind}: ${t.message}`)).toEqual([
      'triggered: Triggered: Release v7 pending on ordering: Deploy 1a2b3c4d',
      'alert: Alert raised severity to high: Release v7 failed on ordering: Deploy 1a2b3c4d',
      'alert: Alert: Release v7 succeeded on ordering: Deploy 1a2b3c4d',
    ]);
  });
});

describe('dyno crashes: ordering, grouping, staleness', () => {
  it('crashes of one dyno group into one incident; up resolves it; a later crash opens a new one', async () => {
    await deliver(dyno('shop-web', 'web.1', 'crashed', 0), dyno('shop-web', 'web.1', 'crashed', 1), dyno('shop-web', 'web.1', 'crashed', 2));
    let list = await incidents('heroku:shop-web:dyno:web.1');
    expect(list).toMatchObject([{ status: 'triggered', alert_count: 3, severity: 'critical' }]);
    const detail = await stack.call('GET', `/api/v1/incidents/${list[0].id}`);
    expect(detail.body.timeline.map((t: { kind: string }) => t.kind)).toEqual(['triggered', 'alert', 'alert']);

    await deliver(dyno('shop-web', 'web.1', 'up', 3));
    await deliver(dyno('shop-web', 'web.1', 'up', 4));
    list = await incidents('heroku:shop-web:dyno:web.1');
    expect(list).toMatchObject([{ status: 'resolved', alert_count: 3 }]);
    const afterUp = await stack.call('GET', `/api/v1/incidents/${list[0].id}`);
    expect(afterUp.body.timeline.filter((t: { kind: string }) => t.kind === 'resolved')).toHaveLength(1);

    await deliver(dyno('shop-web', 'web.1', 'crashed', 5));
    expect(await incidents('heroku:shop-web:dyno:web.1')).toMatchObject([{ status: 'resolved' }, { status: 'triggered', alert_count: 1 }]);
  });

  it('an old crash applied after a newer up is recorded, already resolved: it happened, but it is never open', async () => {
    const crashedEarlier = dyno('ordering', 'worker.1', 'crashed', 0);
    await deliver(dyno('ordering', 'worker.1', 'up', 5));
    await deliver(crashedEarlier);
    const [recorded] = await incidents('heroku:ordering:dyno:worker.1');
    expect(recorded).toMatchObject({ status: 'resolved', alert_count: 1, resolved_by: 'heroku (recovered before this alert was applied)' });
    const detail = await stack.call('GET', `/api/v1/incidents/${recorded.id}`);
    const entries = detail.body.timeline.filter((t: { kind: string }) => t.kind !== 'suspect_deploy');
    expect(entries.map((t: { kind: string; message: string }) => `${t.kind}: ${t.message}`)).toEqual([
      'triggered: Triggered: Dyno worker.1 crashed on ordering (exit status 1)',
      'resolved: Resolved: Heroku had already reported recovery when this alert was applied',
    ]);
    // Another crash from before the up joins it; a crash after the up is news and opens one.
    await deliver(dyno('ordering', 'worker.1', 'crashed', 1));
    await deliver(dyno('ordering', 'worker.1', 'crashed', 6));
    expect(await incidents('heroku:ordering:dyno:worker.1')).toMatchObject([
      { status: 'resolved', alert_count: 2 },
      { status: 'triggered', alert_count: 1 },
    ]);
  });

  it('a late crash from before the recovery counts in the resolved incident without reopening it, and an old up never resolves a newer crash', async () => {
    await deliver(dyno('ordering', 'web.2', 'crashed', 10), dyno('ordering', 'web.2', 'up', 12));
    await deliver(dyno('ordering', 'web.2', 'crashed', 11));
    const [resolved] = await incidents('heroku:ordering:dyno:web.2');
    expect(resolved).toMatchObject({ status: 'resolved', alert_count: 2 });
    const timeline = (await stack.call('GET', `/api/v1/incidents/${resolved.id}`)).body.timeline.filter((t: { kind: string }) => t.kind !== 'suspect_deploy');
    expect(timeline.map((t: { kind: string }) => t.kind)).toEqual(['triggered', 'resolved', 'alert']);
    expect(timeline[2].message).toBe('Alert from before the recovery: Dyno web.2 crashed on ordering (exit status 1)');

    await deliver(dyno('ordering', 'web.3', 'crashed', 20));
    await deliver(dyno('ordering', 'web.3', 'up', 19));
    expect(await incidents('heroku:ordering:dyno:web.3')).toMatchObject([{ status: 'triggered' }]);
  });

  it('Fir lifecycle: crashed then down makes one incident, up resolves it', async () => {
    await deliver(dyno('shop-api', 'web.1', 'crashed', 0), dyno('shop-api', 'web.1', 'down', 1, { exit_status: 1 }), dyno('shop-api', 'web.1', 'starting', 2));
    expect(await incidents('heroku:shop-api:dyno:web.1')).toMatchObject([{ status: 'triggered', alert_count: 1 }]);
    await deliver(dyno('shop-api', 'web.1', 'up', 3));
    expect(await incidents('heroku:shop-api:dyno:web.1')).toMatchObject([{ status: 'resolved' }]);
  });
});

describe('exactly once under concurrency', () => {
  it('three workers with concurrency 10 racing on one key: one open incident with every alert counted, one pulse per release outcome', async () => {
    stack.startWorker({ concurrency: 10 });
    stack.startWorker({ concurrency: 10 });
    const crashes = Array.from({ length: 60 }, (_, i) => dyno('racy', 'web.1', 'crashed', 100 + i / 100));
    const releaseId = randomUUID();
    // Heroku's create + update of one release, each delivered as several events, plus a non-current update.
    const releases = [
      ...Array.from({ length: 5 }, () => release('racy', 100, { id: releaseId, action: 'create' })),
      ...Array.from({ length: 5 }, () => release('racy', 101, { id: releaseId })),
      release('racy', 101, { id: releaseId, current: false }),
    ];
    const all = [...crashes, ...releases];
    const responses = await Promise.all(all.map((event) => postWebhook(stack, integration.id, JSON.stringify(event), { secret: integration.secret })));
    expect(responses.every((r) => r.status === 202)).toBe(true);
    await settle(all.map((e) => e.id));

    expect(await incidents('heroku:racy:dyno:web.1')).toMatchObject([{ status: 'triggered', alert_count: 60 }]);
    const [incident] = await incidents('heroku:racy:dyno:web.1');
    const timeline = await stack.sql('SELECT kind, count(*)::int AS n FROM timeline_entries WHERE incident_id = $1 GROUP BY kind ORDER BY kind', [incident.id]);
    expect(timeline).toEqual([{ kind: 'alert', n: 59 }, { kind: 'triggered', n: 1 }]);
    const pulses = await stack.sql("SELECT status, count(*)::int AS n FROM pulses WHERE app_name = 'racy' GROUP BY status");
    expect(pulses).toEqual([{ status: 'succeeded', n: 1 }]);
    expect(await incidents(`heroku:racy:release:${releaseId}`)).toMatchObject([{ alert_count: 11 }]);
  });
});

describe('replay', () => {
  it('re-applies today’s rules without creating anything twice', async () => {
    const crash = dyno('replayed', 'web.1', 'crashed', 0);
    const rel = release('replayed', 1);
    await deliver(crash, rel);
    const [event] = await stack.sql('SELECT id FROM events WHERE event_id = $1', [crash.id]);
    const [releaseEvent] = await stack.sql('SELECT id FROM events WHERE event_id = $1', [rel.id]);
    for (const id of [event.id, releaseEvent.id, event.id]) {
      expect((await stack.call('POST', `/api/v1/events/${id}/replay`)).status).toBe(202);
    }
    await waitFor(async () => {
      const counts = await stack.runtime.queues.events.getJobCounts('active', 'waiting', 'delayed');
      return Object.values(counts).every((n) => n === 0);
    }, { what: 'replays done' });
    expect(await incidents('heroku:replayed:dyno:web.1')).toMatchObject([{ alert_count: 1 }]);
    expect(await stack.sql("SELECT count(*)::int AS n FROM pulses WHERE app_name = 'replayed'")).toEqual([{ n: 1 }]);
    const [incident] = await incidents('heroku:replayed:dyno:web.1');
    expect(await stack.sql('SELECT count(*)::int AS n FROM timeline_entries WHERE incident_id = $1', [incident.id])).toEqual([{ n: 1 }]);
  });

  it('applies today’s configuration: a skipped event replayed after its app is monitored makes its incident, once', async () => {
    const crash = dyno('late-monitored', 'web.1', 'crashed', 0);
    await deliver(crash);
    const [event] = await stack.sql('SELECT id, status::text FROM events WHERE event_id = $1', [crash.id]);
    expect(event.status).toBe('skipped');
    expect((await stack.call('PATCH', `/api/v1/integrations/heroku/${integration.id}`, { body: { monitoredApps: [...APPS, 'late-monitored'] } })).status).toBe(200);
    for (let i = 0; i < 2; i += 1) {
      expect((await stack.call('POST', `/api/v1/events/${event.id}/replay`)).status).toBe(202);
      await waitFor(async () => (await stack.sql('SELECT status::text FROM events WHERE id = $1', [event.id]))[0].status === 'processed', { what: 'replay applied' });
    }
    await waitFor(async () => Object.values(await stack.runtime.queues.events.getJobCounts('active', 'waiting', 'delayed')).every((n) => n === 0));
    expect(await incidents('heroku:late-monitored:dyno:web.1')).toMatchObject([{ status: 'triggered', alert_count: 1 }]);
  });
});

describe('correlation with services', () => {
  it('links incidents and pulses to every service naming the app exactly; others stay unlinked', async () => {
    const a = await stack.call('POST', '/api/v1/services', { body: { name: 'storefront', herokuAppNames: ['linked'] } });
    const b = await stack.call('POST', '/api/v1/services', { body: { name: 'payments', herokuAppNames: ['linked', 'other'] } });
    const c = await stack.call('POST', '/api/v1/services', { body: { name: 'case-sensitive', herokuAppNames: ['linked-case'] } });
    await deliver(dyno('linked', 'web.1', 'crashed', 0), release('linked', 1), dyno('Linked-Case', 'web.1', 'crashed', 0));

    const byService = await stack.call('GET', `/api/v1/incidents?serviceId=${a.body.id}`);
    const keys = byService.body.items.map((i: { dedupKey: string }) => i.dedupKey);
    expect(keys).toHaveLength(2);
    expect(keys).toEqual(expect.arrayContaining(['heroku:linked:dyno:web.1', expect.stringMatching(/^heroku:linked:release:/)]));
    for (const incident of byService.body.items) expect(incident.serviceIds.sort()).toEqual([a.body.id, b.body.id].sort());
    const unlinked = await stack.call('GET', '/api/v1/incidents?appName=Linked-Case');
    expect(unlinked.body.items).toHaveLength(1);
    expect(unlinked.body.items[0].serviceIds).toEqual([]);
    expect((await stack.call('GET', `/api/v1/incidents?serviceId=${c.body.id}`)).body.items).toEqual([]);

    const pulses = await stack.call('GET', `/api/v1/pulses?serviceId=${b.body.id}`);
    expect(pulses.body.items.map((p: { appName: string }) => p.appName)).toEqual(['linked']);
  });

  it('events for apps the integration does not monitor are skipped and make nothing', async () => {
    const crash = dyno('not-monitored', 'web.1', 'crashed', 0);
    await deliver(crash);
    expect((await stack.sql('SELECT status::text FROM events WHERE event_id = $1', [crash.id]))[0].status).toBe('skipped');
    expect(await incidents('heroku:not-monitored:dyno:web.1')).toEqual([]);
  });
});

describe('suspect deploys', () => {
  it('a crash 4 minutes after a release names it on the timeline and lists recent pulses', async () => {
    const releaseId = randomUUID();
    await deliver(
      release('suspect', -90, { version: 41 }),
      build('suspect', 'succeeded', -6, randomUUID(), releaseId),
      release('suspect', -4, { id: releaseId, version: 42 }),
    );
    await deliver(dyno('suspect', 'web.1', 'crashed', 0));
    const [incident] = await incidents('heroku:suspect:dyno:web.1');
    const detail = await stack.call('GET', `/api/v1/incidents/${incident.id}`);
    expect(detail.body.timeline.find((t: { kind: string }) => t.kind === 'suspect_deploy').message).toBe('Triggered 4 min after release v42 by alice@example.com (1a2b3c4)');
    expect(detail.body.suspectPulses.map((p: { kind: string; version: string }) => `${p.kind} ${p.version}`)).toEqual(['release v42', 'build v42']);
    // The build and the release it produced are linked.
    const [releasePulse, buildPulse] = detail.body.suspectPulses;
    expect(releasePulse.linkedPulseIds).toEqual([buildPulse.id]);
    expect(buildPulse.linkedPulseIds).toEqual([releasePulse.id]);
  });

  it("names the latest deploy of another app of the crashed app's service, passing over failed builds and other services", async () => {
    await stack.call('POST', '/api/v1/services', { body: { name: 'suspect-shop', herokuAppNames: ['suspect-web', 'suspect-worker'] } });
    await stack.call('POST', '/api/v1/services', { body: { name: 'suspect-elsewhere', herokuAppNames: ['suspect-other'] } });
    await deliver(
      release('suspect-worker', -30, { version: 7 }),
      release('suspect-worker', -10, { version: 8 }),
      build('suspect-worker', 'failed', -5),
      release('suspect-other', -2, { version: 99 }),
    );
    await deliver(dyno('suspect-web', 'web.1', 'crashed', 0));
    const [incident] = await incidents('heroku:suspect-web:dyno:web.1');
    const detail = await stack.call('GET', `/api/v1/incidents/${incident.id}`);
    expect(detail.body.timeline.filter((t: { kind: string }) => t.kind === 'suspect_deploy').map((t: { message: string }) => t.message)).toEqual([
      'Triggered 10 min after release v8 by alice@example.com (1a2b3c4)',
    ]);
  });

  it('a build is never the suspect deploy, and the incident lists only deploys that went out (with the builds that made them)', async () => {
    await deliver(
      release('suspect-builds', -20, { version: 10 }),
      build('suspect-builds', 'succeeded', -3),
      build('suspect-builds', 'failed', -2),
      release('suspect-builds', -1, { status: 'pending', current: false, action: 'create', version: 11 }),
    );
    await deliver(dyno('suspect-builds', 'web.1', 'crashed', 0));
    const [incident] = await incidents('heroku:suspect-builds:dyno:web.1');
    const detail = await stack.call('GET', `/api/v1/incidents/${incident.id}`);
    expect(detail.body.timeline.filter((t: { kind: string }) => t.kind === 'suspect_deploy').map((t: { message: string }) => t.message)).toEqual([
      'Triggered 20 min after release v10 by alice@example.com (1a2b3c4)',
    ]);
    expect(detail.body.suspectPulses.map((p: { kind: string; status: string; version: string }) => `${p.kind} ${p.status} ${p.version}`)).toEqual(['release succeeded v10']);
  });
});

describe('services made later', () => {
  it("claim their apps' open incidents and last day's pulses, on create and when given apps", async () => {
    const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
    const now = <T extends object>(event: T, minutes: number): T => ({ ...event, created_at: ago(minutes), updated_at: ago(minutes) });
    const releases: Record<number, ReturnType<typeof release>> = { 3: now(release('later-web', 0, { version: 3 }), 60), 2: now(release('later-web', 0, { version: 2 }), 60 * 25) };
    await deliver(
      now(dyno('later-web', 'web.1', 'crashed', 0), 30),
      now(dyno('later-web', 'web.2', 'crashed', 0), 40),
      now(dyno('later-web', 'web.2', 'up', 0), 35),
      releases[3]!,
      releases[2]!,
      now(dyno('later-api', 'web.1', 'crashed', 0), 20),
    );
    const created = await stack.call('POST', '/api/v1/services', { body: { name: 'later', herokuAppNames: ['later-web'] } });
    expect(created.status).toBe(201);
    const claimed = await stack.call('GET', `/api/v1/incidents?serviceId=${created.body.id}`);
    // Every open incident of the app, however old (Squadcast's table opens one for each release); pulses of the last day only.
    const releaseKey = (version: number) => `heroku:later-web:release:${releases[version]!.data.id}`;
    expect(claimed.body.items.map((i: { dedupKey: string }) => i.dedupKey).sort()).toEqual(['heroku:later-web:dyno:web.1', releaseKey(3), releaseKey(2)].sort());
    const pulses = await stack.call('GET', `/api/v1/pulses?serviceId=${created.body.id}`);
    expect(pulses.body.items.map((p: { version: string }) => p.version)).toEqual(['v3']);

    const patched = await stack.call('PATCH', `/api/v1/services/${created.body.id}`, { body: { herokuAppNames: ['later-web', 'later-api'] } });
    expect(patched.status).toBe(200);
    const after = await stack.call('GET', `/api/v1/incidents?serviceId=${created.body.id}`);
    expect(after.body.items.map((i: { dedupKey: string }) => i.dedupKey).sort()).toEqual(['heroku:later-api:dyno:web.1', 'heroku:later-web:dyno:web.1', releaseKey(3), releaseKey(2)].sort());
    // Claiming again changes nothing; a change that names no apps claims nothing.
    expect((await stack.call('PATCH', `/api/v1/services/${created.body.id}`, { body: { name: 'later (renamed)' } })).status).toBe(200);
    expect((await stack.call('GET', `/api/v1/incidents?serviceId=${created.body.id}`)).body.items).toHaveLength(4);
  });
});

describe('manual acknowledge and resolve', () => {
  it('records who did it; a late alert from before the resolve counts without reopening', async () => {
    const responder = (await stack.call('POST', '/api/v1/tokens', { body: { name: 'Dana (on call)', role: 'responder' } })).body.token;
    await deliver(dyno('manual', 'web.1', 'crashed', 0));
    const [incident] = await incidents('heroku:manual:dyno:web.1');

    const ack = await stack.call('POST', `/api/v1/incidents/${incident.id}/acknowledge`, { token: responder });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'Dana (on call)' });
    await deliver(dyno('manual', 'web.1', 'crashed', 1));
    expect((await stack.call('GET', `/api/v1/incidents/${incident.id}`)).body).toMatchObject({ status: 'acknowledged', alertCount: 2 });

    const resolved = await stack.call('POST', `/api/v1/incidents/${incident.id}/resolve`, { token: responder });
    expect(resolved.body).toMatchObject({ status: 'resolved', resolvedBy: 'Dana (on call)' });
    expect((await stack.call('POST', `/api/v1/incidents/${incident.id}/acknowledge`, { token: responder })).status).toBe(409);
    expect((await stack.call('POST', `/api/v1/incidents/${incident.id}/resolve`)).status).toBe(200);

    await deliver(dyno('manual', 'web.1', 'crashed', 2));
    expect(await incidents('heroku:manual:dyno:web.1')).toMatchObject([{ status: 'resolved', alert_count: 3 }]);
    const timeline = (await stack.call('GET', `/api/v1/incidents/${incident.id}`)).body.timeline;
    expect(timeline.map((t: { kind: string; actor: string | null }) => `${t.kind}:${t.actor ?? ''}`)).toEqual(['triggered:', 'acknowledged:Dana (on call)', 'alert:', 'resolved:Dana (on call)', 'alert:']);
    expect((await stack.call('POST', `/api/v1/incidents/${randomUUID()}/resolve`)).status).toBe(404);
  });
});

describe('incident and pulse lists', () => {
  it('filter by status and severity and paginate newest first', async () => {
    const open = await stack.call('GET', '/api/v1/incidents?status=triggered&limit=200');
    expect(open.body.items.every((i: { status: string }) => i.status === 'triggered')).toBe(true);
    const critical = await stack.call('GET', '/api/v1/incidents?severity=critical&limit=200');
    expect(critical.body.items.length).toBeGreaterThan(0);
    expect(critical.body.items.every((i: { severity: string }) => i.severity === 'critical')).toBe(true);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string; createdAt: string }[]; nextCursor: string | null } } = await stack.call('GET', `/api/v1/incidents?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((i) => i.createdAt));
      cursor = page.body.nextCursor;
    } while (cursor);
    const total = (await stack.sql('SELECT count(*)::int AS n FROM incidents'))[0].n;
    expect(seen).toHaveLength(total);
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  it('a legacy deploy notification makes a deploy pulse', async () => {
    const body = { heroku_id: 'app@heroku.com', event: 'deploy', detail: { app: 'deploys', user: 'jane@example.com', head: 'abc1234', head_long: 'abc1234567890', prev_head: 'fff0000', git_log: 'abc1234 Fix checkout' } };
    const response = await fetch(`${stack.url}/heroku/resources/res-1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('pulsebridge-test-addon:addon-password-123').toString('base64')}` },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    const pulse = await waitFor(async () => (await stack.call('GET', '/api/v1/pulses?kind=deploy&appName=deploys')).body.items[0]);
    expect(pulse).toMatchObject({ summary: '[Heroku][Deploy] deploys abc1234', commitSha: 'abc1234567890', actorEmail: 'jane@example.com', data: { head: 'abc1234', prev_head: 'fff0000', git_log: 'abc1234 Fix checkout' } });
  });
});
