import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHeroku, type FakeHeroku } from '../support/fake-heroku.js';
import { HEROKU_TOKEN, buildApp, fillPath, listRoutes, makeIncidents, snapshot, type ExpressRoute } from '../support/route-walk.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/**
 * Who may call each REST route, from the contract: responders read and acknowledge, resolve and
 * run; services, integrations, tokens and replays are administration. A route missing here fails
 * the test until someone decides its role; a route whose declared role differs fails too.
 */
const EXPECTED_ROLES: Record<string, 'admin' | 'responder' | 'public'> = {
  'GET /api/v1/openapi.json': 'public',

  'POST /api/v1/services': 'admin',
  // Responders read services (read-only); changing them is administration.
  'GET /api/v1/services': 'responder',
  'GET /api/v1/services/:id': 'responder',
  'PATCH /api/v1/services/:id': 'admin',
  'DELETE /api/v1/services/:id': 'admin',

  'POST /api/v1/integrations/heroku': 'admin',
  'GET /api/v1/integrations/heroku': 'admin',
  'GET /api/v1/integrations/heroku/:id': 'admin',
  'PATCH /api/v1/integrations/heroku/:id': 'admin',
  'DELETE /api/v1/integrations/heroku/:id': 'admin',
  'POST /api/v1/integrations/heroku/:id/sync-webhooks': 'admin',
  'POST /api/v1/integrations/heroku/:id/rotate-secret': 'admin',
  'POST /api/v1/integrations/heroku/:id/rotate-drain-urls': 'admin',
  'GET /api/v1/integrations/heroku/:id/oauth/start': 'admin',

  'POST /api/v1/tokens': 'admin',
  'GET /api/v1/tokens': 'admin',
  'DELETE /api/v1/tokens/:id': 'admin',

  'POST /api/v1/events/:id/replay': 'admin',
  'GET /api/v1/events': 'responder',
  'GET /api/v1/events/:id': 'responder',

  'GET /api/v1/incidents': 'responder',
  'GET /api/v1/incidents/:id': 'responder',
  'POST /api/v1/incidents/:id/acknowledge': 'responder',
  'POST /api/v1/incidents/:id/resolve': 'responder',
  'POST /api/v1/incidents/:id/actions/heroku-run': 'responder',
  'POST /api/v1/incidents/:id/actions/heroku-rollback': 'responder',
  'POST /api/v1/incidents/:id/actions/heroku-restart': 'responder',
  'GET /api/v1/incidents/:id/action-runs': 'responder',
  'GET /api/v1/action-runs/:id': 'responder',

  'GET /api/v1/pulses': 'responder',

  'PUT /api/v1/services/:id/escalation': 'admin',
  'GET /api/v1/services/:id/escalation': 'responder',
  'DELETE /api/v1/services/:id/escalation': 'admin',

  'POST /api/v1/maintenance-windows': 'responder',
  'GET /api/v1/maintenance-windows': 'responder',
  'GET /api/v1/maintenance-windows/:id': 'responder',
  'DELETE /api/v1/maintenance-windows/:id': 'responder',

  'GET /api/v1/workflow-runs': 'responder',
  'GET /api/v1/workflows': 'admin',
};

const APP = 'roles-app';

/** Bodies that would succeed, so a request the role check let through would really change something. */
const sampleBody = (key: string, app: string): unknown => {
  const tag = randomUUID().slice(0, 8);
  const bodies: Record<string, unknown> = {
    'POST /api/v1/services': { name: `created-${tag}`, herokuAppNames: [app] },
    'PATCH /api/v1/services/:id': { name: `renamed-${tag}` },
    'POST /api/v1/integrations/heroku': { name: `created-${tag}`, monitoredApps: [app] },
    'PATCH /api/v1/integrations/heroku/:id': { monitoredApps: [app, 'another-app'] },
    'POST /api/v1/tokens': { name: `created-${tag}`, role: 'admin' },
    'POST /api/v1/incidents/:id/actions/heroku-run': { command: 'echo hi', appName: app },
    'POST /api/v1/incidents/:id/actions/heroku-rollback': {},
    'POST /api/v1/maintenance-windows': { appNames: [`${app}-${tag}`], minutes: 30, onEnd: 'reraise' },
    'PUT /api/v1/services/:id/escalation': { minSeverity: 'high', levels: [{ targets: [`U${tag.toUpperCase()}`], delayMinutes: 5 }] },
    'POST /api/v1/incidents/:id/actions/heroku-restart': { appName: app },
  };
  return bodies[key];
};

/** Drift a route's resource first where the admin's request would otherwise have nothing to do. */
const prepare: Record<string, (id: string) => Promise<unknown>> = {
  'POST /api/v1/integrations/heroku/:id/sync-webhooks': (id) => stack.sql("UPDATE managed_webhooks SET state = 'failed', webhook_id = NULL WHERE integration_id = $1", [id]),
  'DELETE /api/v1/services/:id/escalation': (id) =>
    stack.sql(`INSERT INTO escalation_policies (service_id, min_severity, levels) VALUES ($1, 'high', '[{"targets": ["U0AAAAAA1"], "delayMinutes": 5}]') ON CONFLICT (service_id) DO UPDATE SET updated_at = now()`, [id]),
};

/** The database, the queues, and what was asked of Heroku. */
const observe = () => snapshot(stack, heroku);

const keyOf = (route: { method: string; path: string }) => `${route.method} ${route.path}`;

let heroku: FakeHeroku;
let stack: TestStack;
let admin: string;
let responder: string;
let apiRoutes: ExpressRoute[];
let openapi: { paths: Record<string, Record<string, { 'x-pulsebridge-role'?: string }>> };
let resources: { adminToken: string; app: string; incidentIds: string[]; eventId: string };

beforeAll(async () => {
  // Integration routes talk to Heroku: a fake one answers, so an admin's request really does its work.
  heroku = await startFakeHeroku();
  heroku.addToken(HEROKU_TOKEN, { apps: [APP, 'another-app'] });
  stack = await startTestStack({
    config: { HEROKU_API_URL: heroku.apiUrl, HEROKU_ID_URL: heroku.idUrl, HEROKU_OAUTH_ID: heroku.oauth.clientId, HEROKU_OAUTH_SECRET: heroku.oauth.clientSecret },
  });
  admin = (await stack.call('POST', '/api/v1/tokens', { body: { name: 'roles admin', role: 'admin' } })).body.token;
  responder = (await stack.call('POST', '/api/v1/tokens', { body: { name: 'roles responder', role: 'responder' } })).body.token;
  apiRoutes = listRoutes(await buildApp(stack)).filter((route) => route.path.startsWith('/api/'));
  openapi = (await (await fetch(`${stack.url}/api/v1/openapi.json`)).json()) as typeof openapi;
  resources = { adminToken: admin, app: APP, ...(await makeIncidents(stack, Object.keys(EXPECTED_ROLES).length + 4, APP)) };
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await heroku?.close();
});

describe('REST roles, route by route', () => {
  it('every route of the app is classified, and the OpenAPI document declares the same role', () => {
    // The document also describes the webhook, Slack and health endpoints, which take no bearer token.
    const documented = Object.entries(openapi.paths).filter(([path]) => path.startsWith('/api/v1/')).flatMap(([path, operations]) =>
      Object.entries(operations).map(([method, operation]) => ({ key: `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`, role: operation['x-pulsebridge-role'] })),
    );
    const served = apiRoutes.map(keyOf);
    expect(served.length).toBeGreaterThan(20);
    expect(served.filter((key) => !(key in EXPECTED_ROLES)), 'routes with no expected role: classify them per the contract').toEqual([]);
    expect(Object.keys(EXPECTED_ROLES).filter((key) => !served.includes(key)), 'classified routes the app no longer serves').toEqual([]);
    // A route served outside the route table would have no role check at all.
    const undocumented = served.filter((key) => EXPECTED_ROLES[key] !== 'public' && !documented.some((d) => d.key === key));
    expect(undocumented, 'routes served but not in the OpenAPI document (not registered through the route table)').toEqual([]);
    for (const { key, role } of documented) expect(role, `declared role of ${key}`).toBe(EXPECTED_ROLES[key]);
  });

  it('no token: 401 everywhere; responder: 403 on admin routes with nothing changed, allowed on the rest; admin: allowed everywhere', async () => {
    const failures: string[] = [];
    const protectedRoutes = apiRoutes.filter((route) => EXPECTED_ROLES[keyOf(route)] !== 'public');
    for (const route of protectedRoutes) {
      const key = keyOf(route);
      // One real resource per route: refused requests must leave it as it was for the admin's.
      const path = await fillPath(stack, route.path, resources);
      const body = sampleBody(key, APP);
      const id = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(path)?.[0];
      if (id !== undefined) await prepare[key]?.(id);

      const before = await observe();
      const anonymous = await stack.call(route.method, path, { token: null, body });
      if (anonymous.status !== 401) failures.push(`${key} without a token: ${anonymous.status}, expected 401`);
      const asResponder = await stack.call(route.method, path, { token: responder, body });
      if (EXPECTED_ROLES[key] === 'admin') {
        if (asResponder.status !== 403 || asResponder.body?.error?.code !== 'forbidden') failures.push(`${key} as a responder: ${asResponder.status}, expected 403 forbidden`);
        const after = await observe();
        const changed = Object.keys(before).filter((what) => before[what] !== after[what]);
        if (changed.length > 0) failures.push(`${key} without a token or as a responder changed ${changed.join(', ')}`);
      } else if (asResponder.status === 401 || asResponder.status === 403) {
        failures.push(`${key} as a responder: ${asResponder.status}, expected it allowed`);
      }

      // The same request from an admin is let through: the refusals above are about roles.
      const beforeAdmin = await observe();
      const asAdmin = await stack.call(route.method, path, { token: admin, body: sampleBody(key, APP) });
      if (asAdmin.status === 401 || asAdmin.status === 403 || asAdmin.status >= 500) failures.push(`${key} as an admin: ${asAdmin.status} ${JSON.stringify(asAdmin.body)}`);
      // ...and really changes something, so "nothing changed" above means the check held.
      if (EXPECTED_ROLES[key] === 'admin' && route.method !== 'GET') {
        const afterAdmin = await observe();
        if (Object.keys(beforeAdmin).every((what) => beforeAdmin[what] === afterAdmin[what])) failures.push(`${key} as an admin changed nothing (${asAdmin.status}): give it a sample body that works`);
      }
    }
    expect(failures).toEqual([]);
    expect(protectedRoutes.length).toBe(Object.values(EXPECTED_ROLES).filter((role) => role !== 'public').length);
  }, 300_000);
});
