import { z } from 'zod';
import {
  AppError,
  RestartRequestSchema,
  RollbackRequestSchema,
  RunRequestSchema,
  findRun,
  incidentRuns,
  isoDate,
  startRestart,
  startRollback,
  startRun,
  type Database,
  type HerokuClientForApp,
  type Queues,
} from '@pulsebridge/core';
import { IdParamsSchema, type RouteTable } from '../http/route-table.js';

const ActionRunSchema = z.object({
  id: z.string(),
  incidentId: z.string(),
  /** A command on a one-off dyno, a rollback or a restart. */
  kind: z.enum(['run', 'rollback', 'restart']),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  /** Runs: the command as written and as it ran. */
  command: z.string().nullable(),
  renderedCommand: z.string().nullable(),
  appName: z.string(),
  dynoSize: z.string().nullable(),
  timeToLive: z.number().int(),
  /** A run's one-off dyno, or the dyno a restart restarts. */
  dynoName: z.string().nullable(),
  /** A restart's process type (no dyno and no process type: every dyno). */
  processType: z.string().nullable(),
  /** A rollback: the release it goes back to, the one current when asked, and the release it made. */
  targetReleaseId: z.string().nullable(),
  targetVersion: z.number().int().nullable(),
  expectedVersion: z.number().int().nullable(),
  resultReleaseId: z.string().nullable(),
  resultVersion: z.number().int().nullable(),
  exitStatus: z.number().int().nullable(),
  output: z.string().nullable(),
  outputTruncated: z.boolean(),
  error: z.string().nullable(),
  requestedBy: z.string(),
  postToTimeline: z.boolean(),
  slackChannels: z.array(z.string()),
  /** Times are null when the database holds one that cannot be read (see `isoDate`). */
  createdAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});

export function registerActionRunRoutes(routes: RouteTable, deps: { db: Database; queues: Queues; herokuFor: HerokuClientForApp; onIncidentChanged?: (incidentId: string) => Promise<void> }) {
  const { prisma } = deps.db;
  const actionDeps = { db: prisma, queues: deps.queues, herokuFor: deps.herokuFor };
  const present = (row: NonNullable<Awaited<ReturnType<typeof findRun>>>) => ({
    ...row,
    kind: row.kind as 'run' | 'rollback' | 'restart',
    createdAt: isoDate(row.createdAt),
    startedAt: isoDate(row.startedAt),
    finishedAt: isoDate(row.finishedAt),
  });

  routes.add({
    method: 'post',
    path: '/api/v1/incidents/:id/actions/heroku-run',
    summary: 'Run a command on a one-off Heroku dyno for an incident (output recorded, optionally on the timeline and in Slack)',
    tag: 'actions',
    role: 'responder',
    params: IdParamsSchema,
    body: RunRequestSchema,
    responses: {
      202: { description: 'queued', schema: z.object({ runId: z.string() }) },
      404: { description: 'unknown incident' },
      409: { description: 'no integration with Heroku credentials monitors the app' },
    },
    handler: async ({ params, body, principal }) => {
      const runId = await startRun(prisma, deps.queues, params.id, body, principal.name);
      return { status: 202, body: { runId } };
    },
  });

  routes.add({
    method: 'post',
    path: '/api/v1/incidents/:id/actions/heroku-rollback',
    summary:
      "Roll the incident's app back: by default to the release before its suspect deploy, refused (409 moved_on, with the current release) when the app has moved on since; with releaseId, to that release. The outcome goes on the timeline and in the Slack thread",
    tag: 'actions',
    role: 'responder',
    params: IdParamsSchema,
    body: RollbackRequestSchema,
    responses: {
      202: { description: 'queued', schema: z.object({ runId: z.string() }) },
      404: { description: 'unknown incident, or a release Heroku does not know' },
      409: { description: 'the incident names no app or no suspect release; no integration with Heroku credentials monitors the app; the release is current or not eligible; moved_on: the app has moved on since the suspect deploy (error.currentRelease)' },
      502: { description: 'Heroku refused' },
    },
    handler: async ({ params, body, principal }) => {
      const runId = await startRollback(actionDeps, params.id, body, principal.name);
      return { status: 202, body: { runId } };
    },
  });

  routes.add({
    method: 'post',
    path: '/api/v1/incidents/:id/actions/heroku-restart',
    summary: 'Restart one dyno, the dynos of a process type, or every dyno of an app the incident concerns. The outcome goes on the timeline and in the Slack thread',
    tag: 'actions',
    role: 'responder',
    params: IdParamsSchema,
    body: RestartRequestSchema,
    responses: {
      202: { description: 'queued', schema: z.object({ runId: z.string() }) },
      404: { description: 'unknown incident' },
      409: { description: 'no integration with Heroku credentials monitors the app' },
    },
    handler: async ({ params, body, principal }) => {
      const runId = await startRestart(actionDeps, params.id, body, principal.name);
      return { status: 202, body: { runId } };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/action-runs/:id',
    summary: 'An action run (a command, a rollback or a restart): status, outcome and output',
    tag: 'actions',
    role: 'responder',
    params: IdParamsSchema,
    responses: { 200: { description: 'the run', schema: ActionRunSchema }, 404: { description: 'unknown run' } },
    handler: async ({ params }) => {
      const row = await findRun(prisma, params.id);
      if (!row) throw new AppError('not_found', 'no action run has this id');
      return { status: 200, body: present(row) };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/incidents/:id/action-runs',
    summary: 'The action runs of an incident (commands, rollbacks, restarts), newest first',
    tag: 'actions',
    role: 'responder',
    params: IdParamsSchema,
    responses: { 200: { description: 'runs', schema: z.object({ items: z.array(ActionRunSchema) }) } },
    handler: async ({ params }) => {
      const rows = await incidentRuns(prisma, params.id, 100);
      return { status: 200, body: { items: rows.map(present) } };
    },
  });
}
