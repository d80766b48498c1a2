import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, createRuntime, loadRuleSet } from '@pulsebridge/core';
import { startApiServer, type ApiServer } from '@pulsebridge/api';
import { createIntegration, postWebhook, startTestStack, waitFor, type TestStack } from '../support/stack.js';

const APPS = Array.from({ length: 10 }, (_, i) => `scale-app-${i}`);
const stacks: TestStack[] = [];
const extraApis: { api: ApiServer; close: () => Promise<void> }[] = [];

afterAll(async () => {
  for (const extra of extraApis) await extra.close();
  for (const stack of stacks) await stack.stop();
});

/** The same deliveries for every run: per app a crash cycle, a build, a release with a release phase, redeliveries. */
function workload(): object[] {
  const perApp = APPS.map((app) => {
    const t = (minute: number) => new Date(Date.UTC(2026, 10, 24, 10, minute)).toISOString();
    const dyno = (state: string, minute: number, id = `${app}-dyno-${state}-${minute}`) => ({ id, data: { app: { name: app }, name: 'web.1', state, management: 'formation', exit_status: state === 'crashed' ? 1 : null }, created_at: t(minute), webhook_metadata: { event: { id, include: 'dyno' } } });
    const build = (status: string, minute: number) => ({ id: `${app}-build-${status}-${minute}`, resource: 'build', action: 'update', data: { id: `${app}-b${minute}`, app: { name: app }, status, source_blob: { version: 'abc' } }, created_at: t(minute) });
    const release = (action: string, current: boolean, minute: number) => ({ id: `${app}-release-${action}-${current}-${minute}`, resource: 'release', action, data: { id: `${app}-r1`, app: { name: app }, status: 'succeeded', current, version: 5, description: 'Deploy abc' }, created_at: t(minute) });
    return [dyno('crashed', 1), dyno('crashed', 2), dyno('up', 3), build('failed', 4), release('create', false, 5), release('update', false, 6), release('update', true, 7), build('succeeded', 8), dyno('crashed', 9)];
  });
  const out: object[] = [];
  for (let step = 0; step < perApp[0]!.length; step += 1) for (const events of perApp) out.push(events[step]!, ...(step % 3 === 0 ? [events[step]!] : []));
  return out;
}

async function run(apis: number, workers: number) {
  const stack = await startTestStack();
  stacks.push(stack);
  const integration = await createIntegration(stack, APPS);
  const urls = [stack.url];
  const rules = await loadRuleSet(stack.config.configDir);
  for (let i = 1; i < apis; i += 1) {
    const runtime = createRuntime(stack.config, { process: 'api', logger: createLogger({ level: 'silent', service: 'test' }) });
    const api = await startApiServer(runtime, { port: 0, host: '127.0.0.1', rules });
    extraApis.push({ api, close: async () => { await api.close(); await runtime.close(); } });
    urls.push(api.url);
  }
  for (let i = 0; i < workers; i += 1) stack.startWorker({ concurrency: 10 });
  const events = workload();
  // Round-robin over the API processes, in step order, as a load balancer would.
  for (let step = 0; step < events.length; step += APPS.length) {
    await Promise.all(
      events.slice(step, step + APPS.length).map((event, i) =>
        postWebhook({ ...stack, url: urls[(step + i) % urls.length]! }, integration.id, JSON.stringify(event), { secret: integration.secret }).then((r) => expect(r.status).toBe(202)),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  await waitFor(async () => (await stack.sql("SELECT count(*)::int AS n FROM events WHERE status = 'received'"))[0].n === 0, { what: 'all processed', timeoutMs: 20_000 });
  const incidents = await stack.sql('SELECT dedup_key, alert_count, status::text, severity::text, title FROM incidents ORDER BY dedup_key, created_at');
  const pulses = await stack.sql('SELECT dedup_key, kind::text, status FROM pulses ORDER BY dedup_key');
  const events_ = await stack.sql('SELECT event_id, status::text, delivery_count FROM events ORDER BY event_id');
  return { incidents, pulses, events: events_ };
}

describe('horizontal scale', () => {
  it('two API processes and three workers produce exactly what one of each does', async () => {
    const single = await run(1, 1);
    const scaled = await run(2, 3);
    expect(single.incidents.length).toBe(APPS.length * 4);
    expect(scaled.incidents).toEqual(single.incidents);
    expect(scaled.pulses).toEqual(single.pulses);
    expect(scaled.events).toEqual(single.events);
  });
});
