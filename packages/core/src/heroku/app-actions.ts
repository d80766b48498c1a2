import type pg from 'pg';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { AppError } from '../errors.js';
import { NEXT_UPDATED_AT } from '../incidents/incident-actions.js';
import type { Queues } from '../queues/queues.js';
import { HerokuAppNameSchema } from '../services/service-store.js';
import type { HerokuClientForApp } from './app-clients.js';
import { HerokuApiError, type HerokuClient, type HerokuRelease } from './platform-client.js';

/**
 * Rollbacks and restarts from an incident: what a request accepts, how it is checked (against
 * Heroku, when a rollback must know what is current) and queued, and how a worker carries it out
 * and records it on the incident's timeline (and so in its Slack thread). Both are action runs
 * (`kind` rollback or restart) beside the one-off dyno commands (run-requests.ts).
 */

/** How long a rollback or a restart may take before the reconciler calls it orphaned. */
export const APP_ACTION_TIME_LIMIT_S = 120;

/** A process type as Heroku names them (`web`, `worker`, `clock`). */
export const ProcessTypeSchema = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'a process type: letters, digits, _ and - (e.g. web)');
/** A dyno as Heroku names them (`web.1`, `worker.2`, `run.1234`). */
export const DynoNameSchema = z.string().regex(/^[A-Za-z0-9_-]{1,40}\.\d{1,9}$/, 'a dyno name: a process type, a dot and a number (e.g. web.1)');

export const RollbackRequestSchema = z.object({
  /** The release to go back to (Heroku's release id); by default the one before the suspect deploy. */
  releaseId: z.string().uuid().optional(),
  /** The app's current release as the person last saw it: refused (moved_on) when it is no longer. */
  expectedVersion: z.number().int().min(1).optional(),
});
export type RollbackRequest = z.output<typeof RollbackRequestSchema>;

export const RestartRequestSchema = z
  .object({
    appName: HerokuAppNameSchema,
    /** One dyno (`web.1`). */
    dyno: DynoNameSchema.optional(),
    /** Every dyno of a process type (`web`). Neither: every dyno of the app. */
    processType: ProcessTypeSchema.optional(),
  })
  .refine((request): boolean => request.dyno === undefined || request.processType === undefined, { message: 'give a dyno or a process type, not both', path: ['processType'] });
export type RestartRequest = z.output<typeof RestartRequestSchema>;

/**
 * What an incident names to restart, read from its entity and dedup key as the default rules
 * write them: a dyno (`heroku:<app>:dyno:web.1`; not a one-off `run.N`, which restarting would not
 * bring back) or a drain signal's process type (`heroku:<app>:<type>:log:<code>`). Null when it
 * names neither (a restart can still be asked for every dyno, or for one given by name).
 */
export function restartTargetOf(incident: { appName: string | null; entity: string; dedupKey: string }): { dyno: string } | { processType: string } | null {
  if (incident.appName === null) return null;
  const prefix = `heroku:${incident.appName}:`;
  if (!incident.dedupKey.startsWith(prefix)) return null;
  const rest = incident.dedupKey.slice(prefix.length);
  if (incident.entity === 'dyno' || incident.entity === 'api:dyno') {
    const dyno = /^dyno:(.+)$/.exec(rest)?.[1];
    return dyno !== undefined && DynoNameSchema.safeParse(dyno).success && !dyno.startsWith('run.') ? { dyno } : null;
  }
  if (incident.entity.startsWith('log:')) {
    const processType = /^([^:]+):log:[^:]+$/.exec(rest)?.[1];
    return processType !== undefined && processType !== 'other' && ProcessTypeSchema.safeParse(processType).success ? { processType } : null;
  }
  return null;
}

/** A release as the API shows it. */
export function presentRelease(release: HerokuRelease) {
  return { id: release.id, version: release.version, description: release.description, status: release.status, createdAt: release.created_at, user: release.user?.email ?? null };
}

export interface AppActionDeps {
  db: Db;
  queues: Pick<Queues, 'enqueueRun'>;
  herokuFor: HerokuClientForApp;
}

/** The client for an app the incident may act on: refused (conflict) when no integration with credentials monitors it. */
async function clientFor(deps: Pick<AppActionDeps, 'herokuFor'>, appName: string): Promise<HerokuClient> {
  try {
    return await deps.herokuFor(appName);
  } catch (error) {
    if (error instanceof HerokuApiError && error.id === 'no_credentials') throw new AppError('conflict', error.message);
    throw error;
  }
}

/** Heroku's refusals as API errors: the release or dyno it does not know, or what it said. */
function fromHeroku(error: unknown, notFound: string): never {
  if (error instanceof HerokuApiError) {
    if (error.status === 404) throw new AppError('not_found', notFound);
    throw new AppError('upstream_failed', `Heroku refused: ${error.describe()}`);
  }
  throw error;
}

/**
 * The release of the incident's suspect deploy: the release pulse its `suspect_deploy` timeline
 * entry names, when it is a release of the incident's own app (one found through a shared service
 * may be another app's).
 */
async function suspectReleaseId(db: Db, incidentId: string, appName: string): Promise<string | null> {
  const entry = await db.timelineEntry.findFirst({ where: { incidentId, kind: 'suspect_deploy' }, select: { data: true }, orderBy: { seq: 'desc' } });
  const pulseId = (entry?.data as { pulseId?: unknown } | undefined)?.pulseId;
  if (typeof pulseId !== 'string') return null;
  const pulse = await db.pulse.findUnique({ where: { id: pulseId }, select: { kind: true, externalId: true, appName: true } });
  return pulse?.kind === 'release' && pulse.appName === appName && pulse.externalId ? pulse.externalId : null;
}

/** What a rollback request resolves to before it is queued: the release to go back to, and what is current now. */
export interface RollbackPlan {
  appName: string;
  target: HerokuRelease;
  current: HerokuRelease;
}

/**
 * Works out a rollback: to `releaseId` when given, else to the release before the incident's
 * suspect deploy, which must still be the app's current release (`moved_on`, with the current
 * release, when the app has moved on since: ask again with its id to roll back anyway). With
 * `expectedVersion`, the current release must be that one (a confirmation someone saw). Refuses
 * an incident that names no app, an app no integration with credentials monitors, a release
 * Heroku will not roll back to, and the current release itself.
 */
export async function planRollback(deps: Pick<AppActionDeps, 'db' | 'herokuFor'>, incidentId: string, request: RollbackRequest): Promise<RollbackPlan> {
  const incident = await deps.db.incident.findUnique({ where: { id: incidentId }, select: { appName: true } });
  if (!incident) throw new AppError('not_found', 'no incident has this id');
  const appName = incident.appName;
  if (appName === null) throw new AppError('conflict', 'this incident names no Heroku app to roll back');
  const client = await clientFor(deps, appName);
  const suspectId = request.releaseId === undefined ? await suspectReleaseId(deps.db, incidentId, appName) : null;
  if (request.releaseId === undefined && suspectId === null) {
    throw new AppError('conflict', `this incident has no suspect release of ${appName} to roll back (none went out in the hour before it); give releaseId to roll back to a release of your choice`);
  }
  let current: HerokuRelease | undefined;
  let target: HerokuRelease;
  try {
    [current] = await client.listReleases(appName, 1);
    if (request.releaseId !== undefined) {
      target = await client.getRelease(appName, request.releaseId);
    } else {
      const suspect = await client.getRelease(appName, suspectId!);
      if (suspect.version <= 1) throw new AppError('conflict', `v${suspect.version} is the first release of ${appName}: there is none before it to roll back to`);
      target = await client.getRelease(appName, suspect.version - 1);
      if (current !== undefined && current.version !== suspect.version) {
        throw new AppError(
          'moved_on',
          `${appName} has moved on since the suspect deploy (v${suspect.version}): its current release is v${current.version} (${current.description}). To roll back to v${target.version} anyway, ask again with its releaseId`,
          { currentRelease: presentRelease(current), targetRelease: presentRelease(target) },
        );
      }
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    fromHeroku(error, request.releaseId === undefined ? `Heroku has no release before the suspect deploy of ${appName}` : `Heroku has no release ${request.releaseId} of ${appName}`);
  }
  if (current === undefined) throw new AppError('conflict', `${appName} has no releases`);
  if (request.expectedVersion !== undefined && current.version !== request.expectedVersion) {
    throw new AppError(
      'moved_on',
      `${appName} has moved on since v${request.expectedVersion}: its current release is v${current.version} (${current.description}). To roll back to v${target.version} anyway, ask again`,
      { currentRelease: presentRelease(current), targetRelease: presentRelease(target) },
    );
  }
  if (target.eligible_for_rollback === false) throw new AppError('conflict', `Heroku will not roll ${appName} back to v${target.version} (not eligible for rollback)`);
  if (target.id === current.id) throw new AppError('conflict', `v${target.version} is already the current release of ${appName}`);
  return { appName, target, current };
}

/** Records an action run and queues it; the run is marked failed when the queue cannot take it. */
async function queueRun(deps: AppActionDeps, data: Parameters<Db['actionRun']['create']>[0]['data']): Promise<string> {
  const run = await deps.db.actionRun.create({ data, select: { id: true } });
  try {
    await deps.queues.enqueueRun(run.id);
  } catch {
    await deps.db.actionRun.update({ where: { id: run.id }, data: { status: 'failed', error: 'the job queue (Redis) was unavailable; nothing was done', finishedAt: new Date() } });
    throw new AppError('unavailable', 'the job queue (Redis) is unavailable; try again');
  }
  return run.id;
}

/** Plans a rollback (see `planRollback`) and queues it; returns the run's id. */
export async function startRollback(deps: AppActionDeps, incidentId: string, request: RollbackRequest, requestedBy: string): Promise<string> {
  const plan = await planRollback(deps, incidentId, request);
  return queueRun(deps, {
    incidentId,
    kind: 'rollback',
    appName: plan.appName,
    targetReleaseId: plan.target.id,
    targetVersion: plan.target.version,
    expectedVersion: plan.current.version,
    timeToLive: APP_ACTION_TIME_LIMIT_S,
    postToTimeline: true,
    requestedBy,
  });
}

/** The app an incident names (what its Restart button restarts on), or null. */
export async function incidentAppName(db: Db, incidentId: string): Promise<string | null> {
  return (await db.incident.findUnique({ where: { id: incidentId }, select: { appName: true } }))?.appName ?? null;
}

/**
 * Checks a restart (the incident exists; the app is its app or one of its services'; an
 * integration with credentials monitors it) and queues it; returns the run's id.
 */
export async function startRestart(deps: AppActionDeps, incidentId: string, request: RestartRequest, requestedBy: string): Promise<string> {
  const incident = await deps.db.incident.findUnique({ where: { id: incidentId }, select: { appName: true, services: { select: { service: { select: { herokuAppNames: true } } } } } });
  if (!incident) throw new AppError('not_found', 'no incident has this id');
  // An incident's own apps: its app and its services' apps. Nothing else is restarted from it.
  const apps = new Set([...(incident.appName === null ? [] : [incident.appName]), ...incident.services.flatMap((link) => link.service.herokuAppNames)]);
  if (!apps.has(request.appName)) {
    throw new AppError('conflict', apps.size === 0 ? 'this incident names no Heroku app to restart' : `${request.appName} is not an app of this incident (${[...apps].sort().join(', ')})`);
  }
  await clientFor(deps, request.appName);
  return queueRun(deps, {
    incidentId,
    kind: 'restart',
    appName: request.appName,
    dynoName: request.dyno ?? null,
    processType: request.processType ?? null,
    timeToLive: APP_ACTION_TIME_LIMIT_S,
    postToTimeline: true,
    requestedBy,
  });
}

// ---------------------------------------------------------------------------------------------
// In the worker

interface AppActionRow {
  id: string;
  incident_id: string;
  kind: 'rollback' | 'restart';
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  app_name: string;
  dyno_name: string | null;
  process_type: string | null;
  target_release_id: string | null;
  target_version: number | null;
  expected_version: number | null;
  result_version: number | null;
  requested_by: string;
  error: string | null;
}

/** What a restart restarts, in words. */
export function restartScope(run: { dyno_name: string | null; process_type: string | null }): string {
  return run.dyno_name !== null ? `dyno ${run.dyno_name}` : run.process_type !== null ? `the ${run.process_type} dynos` : 'every dyno';
}

async function finish(pool: pg.Pool, runId: string, result: { status: 'succeeded' | 'failed'; error?: string; resultReleaseId?: string; resultVersion?: number }) {
  await pool.query(
    `UPDATE action_runs SET status = $2::"ActionRunStatus", error = $3, result_release_id = $4, result_version = $5, finished_at = now() WHERE id = $1 AND status = 'running'`,
    [runId, result.status, result.error ?? null, result.resultReleaseId ?? null, result.resultVersion ?? null],
  );
}

/**
 * Carries out a rollback or a restart once: the run is claimed before Heroku is asked, so a
 * retried job never asks twice; a run found `running` (its worker stopped while Heroku was being
 * asked) is failed saying it is unclear what happened. A rollback first checks that the app's
 * current release is still the one it was asked against. The outcome goes on the incident's
 * timeline, and so to its Slack thread.
 */
export async function executeAppAction(deps: { pool: pg.Pool; herokuFor: HerokuClientForApp }, runId: string): Promise<void> {
  const { rows } = await deps.pool.query<AppActionRow>('SELECT * FROM action_runs WHERE id = $1', [runId]);
  const run = rows[0];
  if (run === undefined) return;
  if (run.status === 'running') {
    const check = run.kind === 'rollback' ? `\`heroku releases -a ${run.app_name}\`` : `\`heroku ps -a ${run.app_name}\``;
    await finish(deps.pool, run.id, { status: 'failed', error: `pulsebridge stopped while asking Heroku; it was not asked again, and whether Heroku acted is unknown. Check ${check}.` });
  } else if (run.status === 'queued') {
    const claimed = await deps.pool.query(`UPDATE action_runs SET status = 'running', started_at = now() WHERE id = $1 AND status = 'queued'`, [run.id]);
    if (claimed.rowCount === 1) await (run.kind === 'rollback' ? rollBack(deps, run) : restart(deps, run));
  }
  await recordOnTimeline(deps.pool, run.id);
}

async function rollBack(deps: { pool: pg.Pool; herokuFor: HerokuClientForApp }, run: AppActionRow) {
  try {
    const client = await deps.herokuFor(run.app_name);
    const [current] = await client.listReleases(run.app_name, 1);
    if (current !== undefined && current.version !== run.expected_version) {
      await finish(deps.pool, run.id, {
        status: 'failed',
        error: `${run.app_name} moved on to v${current.version} (${current.description}) after the rollback was asked for, so nothing was rolled back; ask again if it is still needed`,
      });
      return;
    }
    const release = await client.rollback(run.app_name, run.target_release_id!);
    await finish(deps.pool, run.id, { status: 'succeeded', resultReleaseId: release.id, resultVersion: release.version });
  } catch (error) {
    await finish(deps.pool, run.id, { status: 'failed', error: error instanceof HerokuApiError ? `Heroku refused the rollback: ${error.describe()}` : `the rollback failed: ${(error as Error).message}` });
  }
}

async function restart(deps: { pool: pg.Pool; herokuFor: HerokuClientForApp }, run: AppActionRow) {
  try {
    const client = await deps.herokuFor(run.app_name);
    if (run.dyno_name !== null) await client.restartDyno(run.app_name, run.dyno_name);
    else if (run.process_type !== null) await client.restartProcessType(run.app_name, run.process_type);
    else await client.restartAllDynos(run.app_name);
    await finish(deps.pool, run.id, { status: 'succeeded' });
  } catch (error) {
    const refused =
      error instanceof HerokuApiError && error.status === 404 && run.dyno_name !== null ? `Heroku has no dyno ${run.dyno_name} on ${run.app_name} (${error.id})`
      : error instanceof HerokuApiError ? `Heroku refused the restart: ${error.describe()}`
      : `the restart failed: ${(error as Error).message}`;
    await finish(deps.pool, run.id, { status: 'failed', error: refused });
  }
}

/** One timeline entry per finished run (its Slack thread gets it as a change of the incident). */
async function recordOnTimeline(pool: pg.Pool, runId: string) {
  const { rows } = await pool.query<AppActionRow>('SELECT * FROM action_runs WHERE id = $1', [runId]);
  const run = rows[0];
  if (run === undefined || (run.status !== 'succeeded' && run.status !== 'failed')) return;
  const summary =
    run.kind === 'rollback'
      ? run.status === 'succeeded'
        ? `${run.requested_by} rolled ${run.app_name} back to v${run.target_version} (new release v${run.result_version})`
        : `${run.requested_by}'s rollback of ${run.app_name} to v${run.target_version} failed: ${run.error ?? 'no reason given'}`
      : run.status === 'succeeded'
        ? `${run.requested_by} restarted ${restartScope(run)} on ${run.app_name}`
        : `${run.requested_by}'s restart of ${restartScope(run)} on ${run.app_name} failed: ${run.error ?? 'no reason given'}`;
  const added = await pool.query(
    `INSERT INTO timeline_entries (incident_id, kind, message, data, actor)
     SELECT $1, 'action_run', $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM timeline_entries WHERE incident_id = $1 AND kind = 'action_run' AND data->>'runId' = $5)`,
    [run.incident_id, summary, JSON.stringify({ runId: run.id, kind: run.kind, status: run.status, ...(run.result_version !== null && { resultVersion: run.result_version }) }), run.requested_by, run.id],
  );
  if (added.rowCount) await pool.query(`UPDATE incidents SET updated_at = ${NEXT_UPDATED_AT} WHERE id = $1`, [run.incident_id]);
}
