import path from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Liquid } from 'liquidjs';
import type { z } from 'zod';
import {
  AppError,
  EventFilterSchema,
  IncidentFilterSchema,
  PulseFilterSchema,
  RestartRequestSchema,
  RunRequestSchema,
  ServiceFieldsSchema,
  planRollback,
  restartScope,
  restartTargetOf,
  startRestart,
  startRollback,
  toYaml,
  MaintenanceWindowSchema,
  createMaintenanceWindow,
  endMaintenanceWindowNow,
  openMaintenanceWindowsOf,
  findMaintenanceWindow,
  incidentAppName,
  EscalationPolicySchema,
  SEVERITIES,
  deleteEscalationPolicy,
  findEscalationPolicy,
  putEscalationPolicy,
  recentWorkflowRuns,
  type HerokuClientForApp,
  RUN_TIME_TO_LIVE_CAP,
  authenticateToken,
  changeIncidentStatus,
  countIncidentsByStatus,
  createService,
  deleteService,
  findIncident,
  findService,
  incidentSlackPosts,
  incidentSuspectPulses,
  incidentTimeline,
  incidentRuns,
  integrationEventStats,
  monitoredAppNames,
  openIncidentsOfService,
  isApiTokenActive,
  getEvent,
  replayEvent,
  listEvents,
  listIncidents,
  listPulses,
  servicesByName,
  readTestEventResult,
  sendTestEvent,
  startRun,
  updateService,
  touchedByEvent,
  type Database,
  type IntegrationOps,
  type Ingestor,
  type Logger,
  type Queues,
  type RuleSet,
  drainSignalSeries,
  isDrainEntity,
  type DrainWindowStore,
} from '@pulsebridge/core';
import { chartModel } from './signal-chart.js';
import { SESSION_COOKIE, checkCsrf, createSession, csrfToken, decodeSession, encodeSession, parseCookies, type Session } from './session.js';
import { isUuid } from '../ids.js';
import { sameOriginPath } from '../http/same-origin-path.js';
import { pageSecurityHeaders } from './page-headers.js';

export interface UiDeps {
  db: Database;
  queues: Queues;
  ingestor: Ingestor;
  /** The rules, to show what a test event would do for the real app. */
  rules: RuleSet;
  integrationOps: IntegrationOps;
  /** Drain windows: drain incidents' charts, drains' activity on the integration page. */
  drainWindows: DrainWindowStore;
  views: Liquid;
  logger: Logger;
  adminToken: string;
  sessionKey: Buffer;
  secretKey: Buffer;
  secureCookies: boolean;
  /** Redirects to user-supplied locations stay on this origin. */
  publicUrl: string;
  /** Heroku's OAuth host: the one place a UI form may lead off-site. */
  herokuIdUrl: string;
  onIncidentChanged: (incidentId: string) => Promise<void>;
  /** Rollbacks and restarts from an incident's page. */
  herokuFor: HerokuClientForApp;
}

const PUBLIC = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../public');
const UI_PATH = /^\/(?:$|incidents|deploys|events|services|integrations|workflows|logout)(?:\/|$)/;
const STATUS_ORDER: Record<string, number> = { triggered: 0, acknowledged: 1, resolved: 2 };

/**
 * A list filter from a page's query string, read with the REST API's schema: each field it
 * accepts, the others left out (a page shows everything rather than an error).
 */
function lenient<S extends z.ZodObject>(schema: S, input: Record<string, unknown>): z.output<S> {
  const filter: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const value = input[key];
    if (value === undefined || value === '') continue;
    const parsed = (field as z.ZodType).safeParse(value);
    if (parsed.success && parsed.data !== undefined) filter[key] = parsed.data;
  }
  return filter as z.output<S>;
}

const list = (value: unknown) =>
  String(value ?? '')
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** The web UI: server-rendered pages for on-call engineers and admins. */
export function registerUi(router: Router, deps: UiDeps) {
  const { prisma, pool } = deps.db;

  const render = async (req: Request, res: Response, view: string, data: Record<string, unknown>, status = 200) => {
    const session = res.locals.session as Session | undefined;
    const html = await deps.views.renderFile(view, {
      ...data,
      session,
      isAdmin: session?.role === 'admin',
      csrf: session ? csrfToken(deps.sessionKey, session) : '',
      path: req.path,
      notice: typeof req.query.notice === 'string' ? req.query.notice : null,
    });
    res.status(status).type('html').send(html);
  };
  /** Every redirect to a location built from request input goes through here: same-origin paths only. */
  const redirectWithin = (res: Response, location: unknown, fallback = '/incidents') => res.redirect(303, sameOriginPath(location, deps.publicUrl) ?? fallback);
  const back = (res: Response, url: string, notice?: string) => redirectWithin(res, notice ? `${url}${url.includes('?') ? '&' : '?'}notice=${encodeURIComponent(notice)}` : url);
  const securityHeaders = pageSecurityHeaders({ publicUrl: deps.publicUrl, herokuIdUrl: deps.herokuIdUrl });

  router.use(['/assets', '/login'], securityHeaders);
  router.use('/assets', express.static(PUBLIC, { maxAge: '1h', index: false }));
  router.use(['/login', '/logout', '/incidents', '/deploys', '/events', '/services', '/integrations'], express.urlencoded({ extended: false, limit: '100kb' }));

  router.get('/login', (req, res) => render(req, res, 'login', { next: sameOriginPath(req.query.next, deps.publicUrl) ?? '/incidents', error: null }));
  router.post('/login', async (req, res) => {
    const token = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    const next = sameOriginPath(req.body?.next, deps.publicUrl) ?? '/incidents';
    const principal = token === '' ? null : await authenticateToken(prisma, token, deps.adminToken);
    if (principal === null) return render(req, res, 'login', { next, error: 'That token is unknown or revoked.' }, 401);
    res.cookie(SESSION_COOKIE, encodeSession(deps.sessionKey, createSession(principal)), { httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, path: '/', maxAge: 12 * 3600 * 1000 });
    redirectWithin(res, next);
  });

  /** Every page below needs a session whose token is still valid; every POST needs the CSRF token. */
  const signedIn = async (req: Request, res: Response, next: NextFunction) => {
    const cookie = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (cookie === null) {
      res.clearCookie(SESSION_COOKIE, { path: '/' });
      return render(req, res, 'error', { title: 'Damaged session cookie', message: 'Your browser sent a session cookie that is not one of ours; it has been cleared. Sign in again.' }, 400);
    }
    const session = decodeSession(deps.sessionKey, cookie);
    if (session !== null && session.tokenId !== 'admin-token') {
      if (!(await isApiTokenActive(prisma, session.tokenId))) return res.redirect(303, '/login');
    }
    if (session === null) return redirectWithin(res, `/login?next=${encodeURIComponent(req.originalUrl)}`, '/login');
    res.locals.session = session;
    if (req.method === 'POST' && !checkCsrf(deps.sessionKey, session, req.body?._csrf)) {
      return render(req, res, 'error', { title: 'Form expired', message: 'The form was not sent from this page (or it expired). Go back, reload and try again.' }, 403);
    }
    next();
  };
  const adminOnly = (req: Request, res: Response, next: NextFunction) => {
    if ((res.locals.session as Session).role !== 'admin') {
      return render(req, res, 'error', { title: 'Admins only', message: 'This page is for admins. Ask an admin for access.' }, 403);
    }
    next();
  };
  const ui = express.Router();
  // Every `:id` in the UI is a row id: anything but a UUID names no page, before any query sees it.
  ui.param('id', (req, res, next, id: unknown) => {
    if (isUuid(id)) return next();
    render(req, res, 'error', { title: 'Not found', message: 'Nothing has this id.' }, 404).catch(next);
  });
  // Only the UI's own pages: the REST API, webhooks and unknown paths pass by untouched.
  ui.use((req, res, next) => (UI_PATH.test(req.path) ? securityHeaders(req, res, next) : next('router')));
  ui.use(signedIn);

  ui.post('/logout', (_req, res) => {
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, '/login');
  });
  ui.get('/', (_req, res) => res.redirect(303, '/incidents'));

  // ---- Incidents ------------------------------------------------------------------------------
  const incidentList = async (query: Request['query']) => {
    // The REST API's filter, read leniently: a value it would refuse is left out.
    const filter = lenient(IncidentFilterSchema, { status: query.status, severity: query.severity, appName: query.app, serviceId: query.service });
    const [page, counts, services] = await Promise.all([
      listIncidents(prisma, { ...filter, limit: 200 }),
      countIncidentsByStatus(prisma),
      servicesByName(prisma),
    ]);
    // Open incidents first, newest first within each status.
    const rows = [...page.items].sort((a, b) => STATUS_ORDER[a.status]! - STATUS_ORDER[b.status]! || b.createdAt.getTime() - a.createdAt.getTime());
    return {
      incidents: rows.map((row) => ({ ...row, serviceNames: row.services.map((s) => s.service.name).join(', ') })),
      counts,
      services,
      filter: { status: filter.status ?? '', severity: filter.severity ?? '', app: filter.appName ?? '', service: filter.serviceId ?? '' },
    };
  };

  ui.get('/incidents', async (req, res) => {
    const data = await incidentList(req.query);
    if (req.query.fragment === '1') return render(req, res, 'incidents-table', data);
    await render(req, res, 'incidents', data);
  });

  ui.get('/incidents/:id', async (req, res) => {
    const id = String(req.params.id);
    const incident = await findIncident(prisma, id);
    if (!incident) return render(req, res, 'error', { title: 'Not found', message: 'No incident has this id.' }, 404);
    const [timeline, slackMessages, suspects, runs, series] = await Promise.all([
      incidentTimeline(prisma, id),
      incidentSlackPosts(prisma, id),
      incidentSuspectPulses(prisma, incident, 10),
      incidentRuns(prisma, id, 20),
      isDrainEntity(incident.entity) ? drainSignalSeries(pool, deps.drainWindows, incident) : null,
    ]);
    const target = restartTargetOf(incident);
    const window = incident.maintenanceWindowId === null ? null : await findMaintenanceWindow(prisma, incident.maintenanceWindowId).catch(() => null);
    const view = {
      maintenanceWindow: window,
      incident: { ...incident, timeline, slackMessages, serviceNames: incident.services.map((s) => s.service.name).join(', ') },
      restart: target === null ? { scope: 'all', name: '' } : 'dyno' in target ? { scope: 'dyno', name: target.dyno } : { scope: 'processType', name: target.processType },
      chart: series === null ? null : chartModel(series),
      suspects,
      runs,
      running: runs.some((run) => run.status === 'queued' || run.status === 'running'),
      maxTtl: RUN_TIME_TO_LIVE_CAP,
    };
    if (req.query.fragment === 'runs') return render(req, res, 'runs', view);
    await render(req, res, 'incident', view);
  });

  for (const change of ['acknowledge', 'resolve'] as const) {
    ui.post(`/incidents/:id/${change}`, async (req, res) => {
      const id = String(req.params.id);
      const session = res.locals.session as Session;
      const result = await changeIncidentStatus(pool, id, change, session.name);
      if (result.ok && result.changed) await deps.onIncidentChanged(id);
      const notice = result.ok ? (result.changed ? `Incident ${change === 'acknowledge' ? 'acknowledged' : 'resolved'}.` : 'Nothing to change.') : result.reason === 'not_found' ? 'No such incident.' : 'The incident is already resolved.';
      back(res, `/incidents/${id}`, notice);
    });
  }

  // ---- Rollback and restart: each asked on a confirmation page, then carried out ----------------
  const actionDeps = { db: prisma, queues: deps.queues, herokuFor: deps.herokuFor };
  const sentence = (message: string) => `${message.charAt(0).toUpperCase()}${message.slice(1)}.`;
  /** A positive whole number from a form field, else undefined. */
  const wholeNumber = (value: unknown) => (typeof value === 'string' && /^\d{1,9}$/.test(value) && Number(value) > 0 ? Number(value) : undefined);
  const releaseIdOf = (value: unknown) => (typeof value === 'string' && isUuid(value) ? value : undefined);

  // The confirmation pages are GETs (they change nothing); the forms on them post.
  ui.get('/incidents/:id/rollback', async (req, res) => {
    const id = String(req.params.id);
    const releaseId = releaseIdOf(req.query.releaseId);
    let question: { title: string; message: string; warning?: string; fields: Record<string, string>; action: string; button: string };
    try {
      const plan = await planRollback(actionDeps, id, releaseId === undefined ? {} : { releaseId });
      question = {
        title: `Roll back ${plan.appName} to v${plan.target.version}?`,
        message: `Heroku makes a new release with the code and config of v${plan.target.version} (${plan.target.description}${plan.target.user?.email ? `, by ${plan.target.user.email}` : ''}). The current release is v${plan.current.version} (${plan.current.description}).`,
        fields: { releaseId: plan.target.id, expectedVersion: String(plan.current.version) },
        action: `/incidents/${id}/rollback`,
        button: 'Roll back',
      };
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const details = error.details as { currentRelease?: { version: number }; targetRelease?: { id: string; version: number; description: string } } | undefined;
      if (error.code !== 'moved_on' || details?.targetRelease === undefined || details.currentRelease === undefined) return back(res, `/incidents/${id}`, sentence(error.message));
      question = {
        title: `Roll back to v${details.targetRelease.version} anyway?`,
        message: `The release before the suspect deploy is v${details.targetRelease.version} (${details.targetRelease.description}).`,
        warning: sentence(error.message),
        fields: { releaseId: details.targetRelease.id, expectedVersion: String(details.currentRelease.version) },
        action: `/incidents/${id}/rollback`,
        button: `Roll back to v${details.targetRelease.version} anyway`,
      };
    }
    await render(req, res, 'confirm-action', { ...question, back: `/incidents/${id}` });
  });

  ui.post('/incidents/:id/rollback', async (req, res) => {
    const id = String(req.params.id);
    const session = res.locals.session as Session;
    const releaseId = releaseIdOf(req.body.releaseId);
    const expectedVersion = wholeNumber(req.body.expectedVersion);
    if (releaseId === undefined || expectedVersion === undefined) return back(res, `/incidents/${id}`, 'Confirm the rollback on its page first.');
    try {
      await startRollback(actionDeps, id, { releaseId, expectedVersion }, session.name);
    } catch (error) {
      if (error instanceof AppError) return back(res, `/incidents/${id}#runs`, sentence(error.message));
      throw error;
    }
    back(res, `/incidents/${id}#runs`, 'Rollback started.');
  });

  /** The restart a form asks for: a dyno, a process type, or every dyno of the app. */
  const restartRequestOf = (body: Record<string, unknown>) => {
    const scope = body.scope === 'dyno' || body.scope === 'processType' ? body.scope : 'all';
    const name = String(body.name ?? '').trim();
    return RestartRequestSchema.safeParse({ appName: String(body.appName ?? ''), ...(scope === 'dyno' && { dyno: name }), ...(scope === 'processType' && { processType: name }) });
  };

  ui.get('/incidents/:id/restart', async (req, res) => {
    const id = String(req.params.id);
    const request = restartRequestOf(req.query as Record<string, unknown>);
    if (!request.success) return back(res, `/incidents/${id}#actions`, 'Give a dyno (web.1) or a process type (web) to restart, or restart every dyno.');
    const what = restartScope({ dyno_name: request.data.dyno ?? null, process_type: request.data.processType ?? null });
    await render(req, res, 'confirm-action', {
      title: `Restart ${what} on ${request.data.appName}?`,
      message: 'Heroku stops and starts them; requests in flight on them are cut.',
      fields: { appName: request.data.appName, scope: request.data.dyno ? 'dyno' : request.data.processType ? 'processType' : 'all', name: request.data.dyno ?? request.data.processType ?? '' },
      action: `/incidents/${id}/restart`,
      button: 'Restart',
      back: `/incidents/${id}`,
    });
  });

  ui.post('/incidents/:id/restart', async (req, res) => {
    const id = String(req.params.id);
    const session = res.locals.session as Session;
    const request = restartRequestOf(req.body as Record<string, unknown>);
    if (!request.success) return back(res, `/incidents/${id}#actions`, 'Give a dyno (web.1) or a process type (web) to restart, or restart every dyno.');
    try {
      await startRestart(actionDeps, id, request.data, session.name);
    } catch (error) {
      if (error instanceof AppError) return back(res, `/incidents/${id}#runs`, sentence(error.message));
      throw error;
    }
    back(res, `/incidents/${id}#runs`, 'Restart started.');
  });

  ui.post('/incidents/:id/run', async (req, res) => {
    const id = String(req.params.id);
    const session = res.locals.session as Session;
    const fail = (message: string) => back(res, `/incidents/${id}`, message);
    const ttl = Number.parseInt(String(req.body.timeToLive ?? RUN_TIME_TO_LIVE_CAP), 10);
    // The REST API's request schema and checks; the form has no Slack channels.
    const request = RunRequestSchema.safeParse({
      command: String(req.body.command ?? ''),
      appName: String(req.body.appName ?? ''),
      dynoSize: req.body.dynoSize === 'standard-2X' ? 'standard-2X' : 'standard-1X',
      timeToLive: Number.isInteger(ttl) && ttl >= 1 ? ttl : RUN_TIME_TO_LIVE_CAP,
      postToTimeline: req.body.postToTimeline === 'on',
    });
    if (!request.success) {
      const field = request.error.issues[0]?.path[0];
      return fail(field === 'appName' ? 'Give the Heroku app to run it on.' : 'Give a command (up to 4,000 characters).');
    }
    try {
      await startRun(prisma, deps.queues, id, request.data, session.name);
    } catch (error) {
      if (error instanceof AppError) return fail(`${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`);
      throw error;
    }
    back(res, `/incidents/${id}#runs`, 'Command started.');
  });

  // ---- Deploys and events ---------------------------------------------------------------------
  ui.get('/deploys', async (req, res) => {
    const filter = lenient(PulseFilterSchema, { appName: req.query.app, serviceId: req.query.service });
    const [page, services] = await Promise.all([
      listPulses(prisma, { ...filter, limit: 200 }),
      servicesByName(prisma),
    ]);
    await render(req, res, 'deploys', {
      pulses: page.items.map((p) => ({ ...p, serviceNames: p.services.map((s) => s.service.name).join(', ') })),
      services,
      filter: { app: filter.appName ?? '', service: filter.serviceId ?? '' },
    });
  });

  ui.get('/events', async (req, res) => {
    const filter = lenient(EventFilterSchema, { status: req.query.status, integrationId: req.query.integration });
    const page = await listEvents(prisma, { ...filter, limit: 200 });
    await render(req, res, 'events', { events: page.items, filter: { status: filter.status ?? '', integration: filter.integrationId ?? '' } });
  });

  ui.get('/events/:id', async (req, res) => {
    const id = String(req.params.id);
    const event = await getEvent(prisma, id);
    if (!event) return render(req, res, 'error', { title: 'Not found', message: 'No event has this id.' }, 404);
    const touched = await touchedByEvent(pool, event.id);
    await render(req, res, 'event', { event, payload: JSON.stringify(event.payload, null, 2), incidentIds: touched.incidents.map((i) => i.id), pulseCount: touched.pulseIds.length });
  });

  ui.post('/events/:id/replay', adminOnly, async (req, res) => {
    const id = String(req.params.id);
    try {
      await replayEvent(prisma, deps.queues, id);
    } catch (error) {
      if (error instanceof AppError) return back(res, error.code === 'not_found' ? '/events' : `/events/${id}`, `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`);
      throw error;
    }
    back(res, `/events/${id}`, 'Replay queued: the event is processed again under today’s rules.');
  });

  // ---- Services (everyone reads; admins change) -------------------------------------------------
  ui.get('/services', async (req, res) => {
    const [services, monitored] = await Promise.all([servicesByName(prisma), monitoredAppNames(prisma)]);
    await render(req, res, 'services', {
      services: services.map((s) => ({ ...s, unmonitored: s.herokuAppNames.filter((app) => !monitored.has(app)) })),
      severities: SEVERITIES,
    });
  });

  /** A service's page: its open incidents and its recent pulses (the service's activity feed). */
  ui.get('/services/:id', async (req, res) => {
    const id = String(req.params.id);
    const service = await findService(prisma, id);
    if (!service) return render(req, res, 'error', { title: 'Not found', message: 'No service has this id.' }, 404);
    const [incidents, pulses, escalation, maintenance] = await Promise.all([
      openIncidentsOfService(prisma, id, 200),
      listPulses(prisma, { serviceId: id, limit: 50 }),
      findEscalationPolicy(prisma, id),
      openMaintenanceWindowsOf(prisma, service),
    ]);
    const levelsText = escalation === null ? '' : escalation.levels.map((level) => `${level.targets.join(' ')} after ${level.delayMinutes} min`).join('\n');
    await render(req, res, 'service', { service, incidents, pulses: pulses.items, escalation, levelsText, severities: SEVERITIES, maintenance });
  });

  // "Silence <app> for the next N minutes", from an incident: a maintenance window over its app.
  ui.post('/incidents/:id/silence', async (req, res) => {
    const id = String(req.params.id);
    const session = res.locals.session as Session;
    const appName = await incidentAppName(prisma, id);
    if (appName === null) return back(res, `/incidents/${id}`, 'This incident names no app to silence.');
    const minutes = Number.parseInt(String(req.body.minutes ?? ''), 10);
    const parsed = MaintenanceWindowSchema.safeParse({ appNames: [appName], minutes: Number.isInteger(minutes) ? minutes : undefined, onEnd: 'reraise' });
    if (!parsed.success || parsed.data.minutes === undefined) return back(res, `/incidents/${id}`, 'Give how many minutes to silence it for (1 to 44,640).');
    try {
      const window = await createMaintenanceWindow(prisma, parsed.data, session.name);
      back(res, `/incidents/${id}`, `Silenced ${appName} until ${window.endsAt.toISOString().slice(0, 16).replace('T', ' ')} UTC: incidents that open on it meanwhile are recorded but not posted or escalated.`);
    } catch (error) {
      if (error instanceof AppError) return back(res, `/incidents/${id}`, sentence(error.message));
      throw error;
    }
  });

  // "Silence for the next N minutes": a maintenance window over the service from now.
  ui.post('/services/:id/maintenance', async (req, res) => {
    const id = String(req.params.id);
    const session = res.locals.session as Session;
    const minutes = Number.parseInt(String(req.body.minutes ?? ''), 10);
    const parsed = MaintenanceWindowSchema.safeParse({ serviceIds: [id], minutes: Number.isInteger(minutes) ? minutes : undefined, onEnd: req.body.onEnd === 'resolve' ? 'resolve' : 'reraise' });
    if (!parsed.success || parsed.data.minutes === undefined) return back(res, `/services/${id}#maintenance`, 'Give how many minutes to silence it for (1 to 44,640).');
    try {
      const window = await createMaintenanceWindow(prisma, parsed.data, session.name);
      back(res, `/services/${id}#maintenance`, `Silenced until ${window.endsAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.`);
    } catch (error) {
      if (error instanceof AppError) return back(res, `/services/${id}#maintenance`, sentence(error.message));
      throw error;
    }
  });
  ui.post('/services/:id/maintenance/:windowId/end', async (req, res) => {
    const id = String(req.params.id);
    const windowId = String(req.params.windowId);
    if (!isUuid(windowId)) return back(res, `/services/${id}#maintenance`, 'No such maintenance window.');
    try {
      await endMaintenanceWindowNow(prisma, windowId);
    } catch (error) {
      if (error instanceof AppError) return back(res, `/services/${id}#maintenance`, sentence(error.message));
      throw error;
    }
    back(res, `/services/${id}#maintenance`, 'Maintenance window ended: what it suppressed is resolved or raised within seconds.');
  });

  // An escalation policy as a form writes it: one level a line, `U0123 S0456 after 10 min`.
  ui.post('/services/:id/escalation', adminOnly, async (req, res) => {
    const id = String(req.params.id);
    const lines = String(req.body.levels ?? '').split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
    const levels = lines.map((line) => {
      const match = /^(.+?)\s+after\s+(\d{1,5})(?:\s*min(?:utes)?)?$/i.exec(line);
      return match === null ? null : { targets: match[1]!.split(/[\s,]+/).filter(Boolean), delayMinutes: Number(match[2]) };
    });
    if (levels.length === 0 || levels.some((level) => level === null)) return back(res, `/services/${id}#escalation`, 'Write one level a line: Slack user or group ids, then "after N min" (e.g. U0123ABCD S0456EFGH after 10 min).');
    const repeat = String(req.body.repeatEveryMinutes ?? '').trim();
    const parsed = EscalationPolicySchema.safeParse({ minSeverity: String(req.body.minSeverity ?? ''), levels, directMessages: req.body.directMessages === 'on', ...(repeat !== '' && { repeatEveryMinutes: Number(repeat) }) });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return back(res, `/services/${id}#escalation`, `Escalation not saved: ${issue.path.join('.')} ${issue.message}.`);
    }
    try {
      await putEscalationPolicy(prisma, id, parsed.data);
    } catch (error) {
      if (error instanceof AppError) return back(res, '/services', error.message);
      throw error;
    }
    back(res, `/services/${id}#escalation`, 'Escalation saved.');
  });
  ui.post('/services/:id/escalation/delete', adminOnly, async (req, res) => {
    const id = String(req.params.id);
    try {
      await deleteEscalationPolicy(prisma, id);
    } catch (error) {
      if (error instanceof AppError) return back(res, '/services', error.message);
      throw error;
    }
    back(res, `/services/${id}#escalation`, 'Escalation removed: its incidents stop escalating.');
  });

  /** A service form, read with the REST API's schema; the first problem is the message. */
  const serviceInput = (body: Record<string, unknown>) => {
    const parsed = ServiceFieldsSchema.safeParse({
      name: String(body.name ?? ''),
      herokuAppNames: list(body.herokuAppNames),
      slackChannels: list(body.slackChannels),
      postPulses: body.postPulses === 'on',
      postMinSeverity: typeof body.postMinSeverity === 'string' && body.postMinSeverity !== '' ? body.postMinSeverity : 'info',
    });
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0]!;
    const [field, index] = issue.path;
    const given = typeof index === 'number' ? list(body[String(field)])[index] : undefined;
    const label: Record<string, string> = { name: 'Name', herokuAppNames: 'App names', slackChannels: 'Slack channels' };
    throw new AppError('validation_failed', given === undefined ? `${label[String(field)] ?? String(field)}: ${issue.message}.` : `${given}: ${issue.message}.`);
  };
  const serviceAction = (handler: (req: Request) => Promise<string>) => async (req: Request, res: Response) => {
    try {
      back(res, '/services', await handler(req));
    } catch (error) {
      if (error instanceof AppError) return back(res, '/services', error.message);
      throw error;
    }
  };
  ui.post('/services', adminOnly, serviceAction(async (req) => {
    const input = serviceInput(req.body);
    const { claimed } = await createService(prisma, input);
    return `Service ${input.name} created${claimedText(claimed)}.`;
  }));
  ui.post('/services/:id', adminOnly, serviceAction(async (req) => {
    const input = serviceInput(req.body);
    const { claimed } = await updateService(prisma, String(req.params.id), input);
    return `Service ${input.name} saved${claimedText(claimed)}.`;
  }));
  ui.post('/services/:id/delete', adminOnly, serviceAction(async (req) => {
    await deleteService(prisma, String(req.params.id));
    return 'Service deleted.';
  }));

  // ---- Integrations (admins) --------------------------------------------------------------------
  // ---- Workflows (read-only: they live in workflows.yaml) ----------------------------------------
  ui.get('/workflows', adminOnly, async (req, res) => {
    const runs = await recentWorkflowRuns(prisma, 50);
    await render(req, res, 'workflows', {
      file: deps.rules.workflows.file,
      workflows: deps.rules.workflows.all.map((w) => ({ name: w.name, enabled: w.enabled, definition: toYaml(w.source).trimEnd() })),
      runs: runs.map((run) => ({ ...run, steps: (Array.isArray(run.actions) ? (run.actions as { action: string; status: string; result?: string; error?: string }[]) : []).map((a) => `${a.action} ${a.status}${a.result ? `: ${a.result}` : ''}${a.error ? `: ${a.error}` : ''}`) })),
    });
  });

  ui.get('/integrations', adminOnly, async (req, res) => {
    const page = await deps.integrationOps.list({ limit: 200 });
    const integrations = page.items.map(deps.integrationOps.present);
    await render(req, res, 'integrations', { integrations });
  });

  const integrationAction = (handler: (req: Request, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    try {
      await handler(req, res);
    } catch (error) {
      if (error instanceof AppError) return back(res, req.params.id ? `/integrations/${String(req.params.id)}` : '/integrations', error.message);
      throw error;
    }
  };

  ui.post('/integrations', adminOnly, integrationAction(async (req, res) => {
    const name = String(req.body.name ?? '').trim();
    if (name === '') throw new AppError('validation_failed', 'An integration needs a name.');
    const apiToken = String(req.body.apiToken ?? '').trim();
    const created = await deps.integrationOps.create({ name, monitoredApps: [...new Set(list(req.body.monitoredApps))], ...(apiToken !== '' && { apiToken }) });
    await render(req, res, 'integration-secret', { integration: created, secret: created.secret, cli: cliLines(created) });
  }));

  ui.get('/integrations/:id', adminOnly, async (req, res) => {
    const id = String(req.params.id);
    let integration;
    try {
      integration = deps.integrationOps.present(await deps.integrationOps.find(id));
    } catch {
      return render(req, res, 'error', { title: 'Not found', message: 'No integration has this id.' }, 404);
    }
    const [{ lastEventAt, counts }, drains] = await Promise.all([integrationEventStats(prisma, id), drainActivity(deps.drainWindows, integration)]);
    const testEvent = isUuid(req.query.test) ? await readTestEventResult(deps, req.query.test) : null;
    const view = { integration, lastEventAt, counts, testEvent, cli: cliLines(integration), drains };
    if (req.query.fragment === 'test') return render(req, res, 'test-event', view);
    await render(req, res, 'integration', view);
  });

  ui.post('/integrations/:id/apps', adminOnly, integrationAction(async (req, res) => {
    const id = String(req.params.id);
    await deps.integrationOps.update(id, { monitoredApps: [...new Set(list(req.body.monitoredApps))] });
    back(res, `/integrations/${id}`, 'Monitored apps saved; managed webhooks updated to match.');
  }));
  ui.post('/integrations/:id/sync', adminOnly, integrationAction(async (req, res) => {
    const id = String(req.params.id);
    await deps.integrationOps.sync(id);
    back(res, `/integrations/${id}`, 'Managed webhooks synced.');
  }));
  ui.post('/integrations/:id/rotate', adminOnly, integrationAction(async (req, res) => {
    const rotated = await deps.integrationOps.rotateSecret(String(req.params.id));
    await render(req, res, 'integration-secret', { integration: rotated, secret: rotated.secret, cli: cliLines(rotated), rotated: true });
  }));
  ui.post('/integrations/:id/rotate-drains', adminOnly, integrationAction(async (req, res) => {
    const id = String(req.params.id);
    await deps.integrationOps.rotateDrainUrls(id);
    back(res, `/integrations/${id}#log-drains`, 'Every app has a new drain URL; the old ones are refused. Managed drains were replaced; update drains added by hand.');
  }));
  ui.post('/integrations/:id/delete', adminOnly, integrationAction(async (req, res) => {
    await deps.integrationOps.remove(String(req.params.id));
    back(res, '/integrations', 'Integration deleted.');
  }));
  ui.post('/integrations/:id/oauth', adminOnly, integrationAction(async (req, res) => {
    res.redirect(303, deps.integrationOps.oauthStartUrl(String(req.params.id)));
  }));

  /** Sends a test event through the real ingress and worker; its effects stay on its test app (test-event.ts). */
  ui.post('/integrations/:id/test-event', adminOnly, integrationAction(async (req, res) => {
    const id = String(req.params.id);
    const outcome = await sendTestEvent(deps, await deps.integrationOps.find(id));
    if (outcome.kind !== 'accepted') throw new AppError('validation_failed', `The test event was refused: ${outcome.kind}`);
    back(res, `/integrations/${id}?test=${outcome.eventRowId}#test-event`);
  }));

  router.use(ui);
}

/** What a service claimed of its apps' history, for the notice after saving it. */
function claimedText(claimed: { incidents: number; pulses: number } | null): string {
  if (claimed === null) return '';
  if (claimed.incidents === 0 && claimed.pulses === 0) return '';
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  return `; it now includes ${count(claimed.incidents, 'open incident')} and ${count(claimed.pulses, 'pulse')} of the last day from its apps`;
}

/** Per monitored app: its drain URL, the CLI line to add it, its managed drain, when it last sent and its lines per minute. */
async function drainActivity(
  windows: DrainWindowStore,
  integration: { id: string; drainUrls: { appName: string; url: string }[]; managedDrains: { appName: string; status: string; error: string | null }[] },
) {
  const apps = integration.drainUrls.slice(0, DRAIN_ACTIVITY_APPS);
  const { minutes, perApp } = await windows.linesPerMinute(integration.id, apps.map((drain) => drain.appName), DRAIN_ACTIVITY_MINUTES);
  const last = await windows.lastBodies(integration.id);
  const managed = new Map(integration.managedDrains.map((drain) => [drain.appName, drain]));
  return {
    minutes: minutes.map((minute) => new Date(minute * 60_000).toISOString().slice(11, 16)),
    apps: apps.map((drain, index) => ({
      ...drain,
      cli: `heroku drains:add ${drain.url} -a ${drain.appName}`,
      managed: managed.get(drain.appName) ?? null,
      lastBodyAt: last.get(drain.appName) ?? null,
      lines: perApp[index]!,
    })),
    more: integration.drainUrls.length - apps.length,
  };
}
const DRAIN_ACTIVITY_APPS = 100;
const DRAIN_ACTIVITY_MINUTES = 10;

/** The Heroku CLI line an admin can paste to add the webhook by hand. */
function cliLines(integration: { monitoredApps: string[]; webhookUrl: string }) {
  const apps = integration.monitoredApps.length > 0 ? integration.monitoredApps : ['YOUR-APP'];
  return apps.map((app) => `heroku webhooks:add -i api:build,api:release,dyno -l sync -u ${integration.webhookUrl} -s SECRET -a ${app}`);
}
