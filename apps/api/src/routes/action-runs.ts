import { z } from 'zod';
import { AppError, RunRequestSchema, findRun, incidentRuns, isoDate, startRun, type Database, type Queues } from '@pulsebridge/core';
import { IdParamsSchema, type RouteTable } from '../http/route-table.js';

const ActionRunSchema = z.object({
  id: z.string(),
  incidentId: z.string(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  command: z.string(),
  renderedCommand: z.string().nullable(),
  appName: z.string(),
  dynoSize: z.string(),
  timeToLive: z.number().int(),
  dynoName: z.string().nullable(),
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

export function registerActionRunRoutes(routes: RouteTable, deps: { db: Database; queues: Queues }) {
  const { prisma } = deps.db;
  const present = (row: NonNullable<Awaited<ReturnType<typeof findRun>>>) => ({
    ...row,
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
    method: 'get',
    path: '/api/v1/action-runs/:id',
    summary: 'A command run: status, exit status and output',
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
    summary: 'The command runs of an incident, newest first',
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
