import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { QUEUE_NAMES, loadRuleSet } from '@pulsebridge/core';
import { buildApi } from '@pulsebridge/api';
import { CONFIG_DIR, postWebhook, waitFor, type TestStack } from './stack.js';

/** The Heroku API token integrations made here carry: give it to a fake Heroku for their apps. */
export const HEROKU_TOKEN = 'route-walk-heroku-token';

export interface ExpressRoute {
  method: string;
  /** Express path as registered, e.g. `/api/v1/services/:id`. */
  path: string;
}

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean | undefined> };
  handle: { stack?: Layer[] };
  rawPath?: unknown;
}

/**
 * Every route of an express app, read from its router stack (nested routers included), so a
 * route added anywhere shows up without anyone listing it.
 */
export function listRoutes(app: Express): ExpressRoute[] {
  const routes: ExpressRoute[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) {
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (on && method !== '_all') routes.push({ method: method.toUpperCase(), path: `${prefix}${path}` });
          }
        }
      } else if (layer.handle.stack) {
        // Routers are mounted at `/` today; a router mounted elsewhere must still be walked with its prefix.
        if (typeof layer.rawPath !== 'string') throw new Error(`a router is mounted at ${String(layer.rawPath)}: teach listRoutes its prefix`);
        walk(layer.handle.stack, layer.rawPath === '/' ? prefix : `${prefix}${layer.rawPath}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return routes;
}

/** The express app the stack's API serves, built the way `startApiServer` builds it (not listening). */
export async function buildApp(stack: TestStack): Promise<Express> {
  return buildApi(stack.runtime, await loadRuleSet(CONFIG_DIR)).app;
}

/**
 * What a request could have changed: every table's rows (hashed; a token's `last_used_at` moves
 * on every authenticated request, so it is left out), every queue's job counts and, given a fake
 * Heroku, how many calls it had. Two equal snapshots around a refused request show it changed
 * nothing. Needs no worker running.
 */
export async function snapshot(stack: TestStack, heroku?: { calls: readonly unknown[] }): Promise<Record<string, string>> {
  await stack.api.settled();
  const tables = await stack.sql<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations' ORDER BY 1",
  );
  const state: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await stack.sql<{ rows: string; digest: string | null }>(
      `SELECT count(*)::text AS rows, md5(string_agg(r.j, '|' ORDER BY r.j)) AS digest FROM (SELECT (to_jsonb(t) - 'last_used_at')::text AS j FROM "${name}" t) r`,
    );
    state[`table ${name}`] = `${row!.rows} ${row!.digest ?? ''}`;
  }
  for (const name of Object.values(QUEUE_NAMES)) {
    state[`queue ${name}`] = JSON.stringify(await stack.runtime.queues.byName(name).getJobCounts());
  }
  if (heroku !== undefined) state['Heroku API calls'] = String(heroku.calls.length);
  return state;
}

/**
 * Makes incidents (and their events) up front with a worker, since the walk itself must run
 * without one: a running worker would hide a job a refused request enqueued. An integration
 * with Heroku credentials monitors `app`, so runs on its incidents may start.
 */
export async function makeIncidents(stack: TestStack, count: number, app: string) {
  const integration = await stack.call('POST', '/api/v1/integrations/heroku', { body: { name: `incident source ${app}`, monitoredApps: [app], apiToken: HEROKU_TOKEN } });
  if (integration.status !== 201) throw new Error(`creating integration failed: ${integration.status}`);
  const workers = stack.startWorker();
  for (let i = 1; i <= count; i += 1) {
    const id = randomUUID();
    const crash = { id, data: { app: { name: app }, name: `web.${i}`, state: 'crashed', management: 'formation', exit_status: 1 }, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } };
    const sent = await postWebhook(stack, integration.body.id, JSON.stringify(crash), { secret: integration.body.secret });
    if (sent.status !== 202) throw new Error(`delivery refused: ${sent.status}`);
  }
  const rows = await waitFor(
    async () => {
      const found = await stack.sql<{ id: string }>("SELECT id FROM incidents WHERE app_name = $1 AND status = 'triggered'", [app]);
      return found.length === count && found;
    },
    { timeoutMs: 30_000, what: `${count} incidents on ${app}` },
  );
  await workers.close();
  await stack.api.settled();
  const [event] = await stack.sql<{ id: string }>('SELECT id FROM events WHERE app_name = $1 LIMIT 1', [app]);
  return { incidentIds: rows.map((row) => row.id), eventId: event!.id };
}

/**
 * Fills a route's `:id` with a real resource of the kind the segment before it names, made for
 * this request, so a request the checks let through would really change something. An unknown
 * kind gets a random UUID.
 */
export async function fillPath(stack: TestStack, path: string, resources: { adminToken: string; app: string; incidentIds: string[]; eventId: string }): Promise<string> {
  const match = /\/([^/]+)\/:id(?=\/|$)/.exec(path);
  if (!match) return path;
  const tag = randomUUID().slice(0, 8);
  const create = async (url: string, body: unknown, expected: number) => {
    const response = await stack.call('POST', url, { token: resources.adminToken, body });
    if (response.status !== expected) throw new Error(`POST ${url}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  };
  const incident = () => {
    const id = resources.incidentIds.shift();
    if (!id) throw new Error('out of incidents: make more');
    return id;
  };
  const integration = async () => (await create('/api/v1/integrations/heroku', { name: `int-${tag}`, monitoredApps: [resources.app], apiToken: HEROKU_TOKEN }, 201)).id as string;
  const makers: Record<string, () => Promise<string>> = {
    services: async () => (await create('/api/v1/services', { name: `svc-${tag}`, herokuAppNames: [resources.app] }, 201)).id,
    heroku: integration,
    integrations: integration,
    tokens: async () => (await create('/api/v1/tokens', { name: `spare-${tag}`, role: 'responder' }, 201)).id,
    incidents: async () => incident(),
    events: async () => resources.eventId,
    'action-runs': async () => (await create(`/api/v1/incidents/${incident()}/actions/heroku-run`, { command: 'echo hi', appName: resources.app }, 202)).runId,
  };
  const collection = match[1]!;
  const id = makers[collection] ? await makers[collection]() : randomUUID();
  const filled = path.replace(match[0], `/${collection}/${id}`);
  // A service's maintenance window: one over that service.
  if (collection === 'services' && filled.includes('/maintenance/:windowId')) {
    const window = await create('/api/v1/maintenance-windows', { serviceIds: [id], minutes: 30, onEnd: 'reraise' }, 201);
    return filled.replace(':windowId', window.id as string);
  }
  return filled;
}
