import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHeroku, type FakeHeroku } from '../support/fake-heroku.js';
import { HEROKU_TOKEN, buildApp, fillPath, listRoutes, makeIncidents, snapshot, type ExpressRoute } from '../support/route-walk.js';
import { signInUi, startTestStack, type TestStack, type UiSession } from '../support/stack.js';

/**
 * Every state-changing route outside the REST API, by who may use it. Bearer-token and signed
 * routes are not cookie-authenticated, so a forged cross-site form gains nothing there; every
 * other one is a web UI form and must refuse a POST without the session's CSRF token. A route
 * missing here fails the test until classified.
 */
const FORMS: Record<string, 'admin' | 'responder' | { exempt: string }> = {
  'POST /login': { exempt: 'no session yet: signing in needs the token itself' },
  'POST /slack/interactions': { exempt: "authenticated by Slack's request signature, not a cookie" },
  'POST /logout': 'responder',
  'POST /incidents/:id/acknowledge': 'responder',
  'POST /incidents/:id/resolve': 'responder',
  'POST /incidents/:id/run': 'responder',
  'POST /incidents/:id/rollback': 'responder',
  'POST /incidents/:id/restart': 'responder',
  'POST /incidents/:id/silence': 'responder',
  'POST /events/:id/replay': 'admin',
  'POST /services': 'admin',
  'POST /services/:id': 'admin',
  'POST /services/:id/escalation': 'admin',
  'POST /services/:id/maintenance': 'responder',
  'POST /services/:id/maintenance/:windowId/end': 'responder',
  'POST /services/:id/escalation/delete': 'admin',
  'POST /services/:id/delete': 'admin',
  'POST /integrations': 'admin',
  'POST /integrations/:id/apps': 'admin',
  'POST /integrations/:id/sync': 'admin',
  'POST /integrations/:id/rotate': 'admin',
  'POST /integrations/:id/rotate-drains': 'admin',
  'POST /integrations/:id/delete': 'admin',
  'POST /integrations/:id/oauth': 'admin',
  'POST /integrations/:id/test-event': 'admin',
};

const APP = 'csrf-app';

/** Form fields that make the form do its work, so an accepted forgery would show. */
const fields = (key: string): Record<string, string> => {
  const tag = Math.random().toString(36).slice(2, 10);
  const all: Record<string, Record<string, string>> = {
    'POST /incidents/:id/run': { command: 'echo hi', appName: APP },
    // A rollback to a release of the app (refused as moved on once an earlier post rolled back: Heroku is still asked).
    'POST /incidents/:id/rollback': { releaseId: firstRelease?.id ?? '', expectedVersion: '2' },
    'POST /incidents/:id/restart': { appName: APP, scope: 'all' },
    'POST /incidents/:id/silence': { minutes: '30' },
    'POST /services': { name: `created-${tag}`, herokuAppNames: APP },
    'POST /services/:id': { name: `renamed-${tag}`, herokuAppNames: APP },
    'POST /services/:id/escalation': { minSeverity: 'high', levels: `U${tag.toUpperCase()} after 5 min` },
    'POST /services/:id/maintenance': { minutes: '30', onEnd: 'reraise' },
    'POST /integrations': { name: `created-${tag}`, monitoredApps: APP, apiToken: HEROKU_TOKEN },
    'POST /integrations/:id/apps': { monitoredApps: `${APP} another-app` },
  };
  return all[key] ?? {};
};

let heroku: FakeHeroku;
let stack: TestStack;
let firstRelease: { id: string } | undefined;
let routes: ExpressRoute[];
let resources: { adminToken: string; app: string; incidentIds: string[]; eventId: string };

/** The database, the queues, and what was asked of Heroku. */
const observe = () => snapshot(stack, heroku);

async function post(route: ExpressRoute, path: string, session: UiSession, csrf: string | undefined) {
  const body = new URLSearchParams(fields(`${route.method} ${route.path}`));
  if (csrf !== undefined) body.set('_csrf', csrf);
  const response = await fetch(`${stack.url}${path}`, { method: route.method, redirect: 'manual', headers: { cookie: session.cookie }, body });
  return { status: response.status, location: response.headers.get('location'), cookies: response.headers.getSetCookie(), text: await response.text() };
}

/** Drift a form's resource first where the form would otherwise have nothing to do. */
const prepare: Record<string, (id: string) => Promise<unknown>> = {
  // A window over the app from an earlier post would make the next one overlap it.
  'POST /incidents/:id/silence': () => stack.sql('UPDATE maintenance_windows SET ended_at = now() WHERE ended_at IS NULL'),
  'POST /services/:id/escalation/delete': (id) =>
    stack.sql(`INSERT INTO escalation_policies (service_id, min_severity, levels) VALUES ($1, 'high', '[{"targets": ["U0AAAAAA1"], "delayMinutes": 5}]') ON CONFLICT (service_id) DO UPDATE SET updated_at = now()`, [id]),
  'POST /integrations/:id/sync': (id) => stack.sql("UPDATE managed_webhooks SET state = 'failed', webhook_id = NULL WHERE integration_id = $1", [id]),
};
const idIn = (path: string) => /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(path)?.[0];
const freshPath = async (route: ExpressRoute) => {
  const path = await fillPath(stack, route.path, resources);
  const id = idIn(path);
  if (id !== undefined) await prepare[`${route.method} ${route.path}`]?.(id);
  return path;
};

/** What the accepted form did that a refused one must not: its effect on the database, queues or Heroku, or where it sends the browser. */
function effect(key: string, before: Record<string, string>, after: Record<string, string>, response: Awaited<ReturnType<typeof post>>): string | null {
  if (key === 'POST /logout') return response.cookies.some((c) => /^pb_session=;/.test(c)) ? 'session cookie cleared' : null;
  if (key === 'POST /integrations/:id/oauth') return response.location?.startsWith(`${heroku.idUrl}/oauth/authorize`) ? 'sent to Heroku to authorize' : null;
  const changed = Object.keys(before).filter((what) => before[what] !== after[what]);
  return changed.length > 0 ? changed.join(', ') : null;
}

beforeAll(async () => {
  heroku = await startFakeHeroku();
  heroku.addToken(HEROKU_TOKEN, { apps: [APP, 'another-app'] });
  firstRelease = heroku.addRelease(APP);
  heroku.addRelease(APP);
  stack = await startTestStack({
    config: { HEROKU_API_URL: heroku.apiUrl, HEROKU_ID_URL: heroku.idUrl, HEROKU_OAUTH_ID: heroku.oauth.clientId, HEROKU_OAUTH_SECRET: heroku.oauth.clientSecret },
  });
  const admin = (await stack.call('POST', '/api/v1/tokens', { body: { name: 'csrf admin', role: 'admin' } })).body.token;
  routes = listRoutes(await buildApp(stack)).filter((route) => !route.path.startsWith('/api/') && route.method !== 'GET' && route.method !== 'HEAD');
  // Per form: a fresh resource for each of up to four accepted posts, plus spares.
  resources = { adminToken: admin, app: APP, ...(await makeIncidents(stack, 4 * Object.keys(FORMS).length, APP)) };
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await heroku?.close();
});

describe('CSRF on every web UI form', () => {
  it('every state-changing route outside the REST API is classified', () => {
    const served = routes.map((route) => `${route.method} ${route.path}`);
    expect(served.filter((key) => !(key in FORMS)), 'unclassified: is it a form (admin or responder) or exempt from CSRF, and why?').toEqual([]);
    expect(Object.keys(FORMS).filter((key) => !served.includes(key)), 'classified but no longer served').toEqual([]);
  });

  it('a post without the session’s CSRF token is refused and changes nothing, for admins and responders alike; with it, the same post is accepted', async () => {
    const admin = await signInUi(stack, resources.adminToken);
    const responderToken = (await stack.call('POST', '/api/v1/tokens', { body: { name: 'csrf responder', role: 'responder' } })).body.token;
    const responder = await signInUi(stack, responderToken);
    const otherAdmin = await signInUi(stack, resources.adminToken);
    expect(otherAdmin.csrf).not.toBe(admin.csrf);

    const failures: string[] = [];
    const forms = routes.filter((route) => typeof FORMS[`${route.method} ${route.path}`] === 'string');
    for (const route of forms) {
      const key = `${route.method} ${route.path}`;
      const role = FORMS[key];
      const refuse = async (who: string, session: UiSession, forgeries: Record<string, string | undefined>, title: RegExp) => {
        const path = await freshPath(route);
        for (const [what, csrf] of Object.entries(forgeries)) {
          const before = await observe();
          const response = await post(route, path, session, csrf);
          if (response.status !== 403 || !title.test(response.text)) failures.push(`${key} from ${who} ${what}: ${response.status}, expected 403 ${title}`);
          if (response.cookies.length > 0) failures.push(`${key} from ${who} ${what} set cookies: ${response.cookies.join('; ')}`);
          const after = await observe();
          const changed = Object.keys(before).filter((part) => before[part] !== after[part]);
          if (changed.length > 0) failures.push(`${key} from ${who} ${what} changed ${changed.join(', ')}`);
        }
      };
      const accept = async (who: string, session: UiSession) => {
        const path = await freshPath(route);
        const before = await observe();
        const response = await post(route, path, session, session.csrf);
        const after = await observe();
        if (response.status === 403 || response.status >= 500) failures.push(`${key} from ${who} with its CSRF token: ${response.status}, expected it accepted`);
        else if (effect(key, before, after, response) === null) failures.push(`${key} from ${who} with its CSRF token did nothing (${response.status} ${response.location ?? ''}): give it fields that work`);
      };
      const forgeries = (session: UiSession, other: UiSession) => ({
        'without _csrf': undefined,
        'with an empty _csrf': '',
        'with a made-up _csrf': 'x'.repeat(session.csrf.length),
        "with another session's _csrf": other.csrf,
      });
      const expired = /Form expired/;

      await refuse('an admin', admin, forgeries(admin, otherAdmin), expired);
      if (role === 'responder') await refuse('a responder', responder, forgeries(responder, admin), expired);
      // Role and CSRF are separate checks: a responder's genuine form on an admin page is still refused.
      else await refuse('a responder', responder, { 'with its own _csrf': responder.csrf }, /Admins only/);

      // The same posts with the right token go through, so the refusals above are about the token.
      if (key === 'POST /logout') {
        await accept('an admin', await signInUi(stack, resources.adminToken));
        await accept('a responder', await signInUi(stack, responderToken));
      } else {
        await accept('an admin', admin);
        if (role === 'responder') await accept('a responder', responder);
      }
    }
    expect(failures).toEqual([]);
    expect(forms.length).toBe(Object.values(FORMS).filter((role) => typeof role === 'string').length);
  }, 300_000);
});
