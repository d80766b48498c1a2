import { z } from 'zod';
import { AppError, CommandTemplateError, RUN_TIME_TO_LIVE_CAP, createCommandLiquid, isoDate, renderCommand, type Database, type Queues, HerokuAppNameSchema, SlackChannelSchema } from '@pulsebridge/core';
import { IdParamsSchema, type RouteTable } from '../http/route-table.js';

const RunRequestSchema = z.object({
  /** A Liquid template; `incident`, `service` and `app` are in scope and every value reaches the dyno as an environment variable. */
  command: z.string().trim().min(1).max(4_000),
  appName: HerokuAppNameSchema,
  dynoSize: z.enum(['standard-1X', 'standard-2X']).default('standard-1X'),
  /** Seconds; anything above the cap is cut to it. */
  timeToLive: z.number().int().min(1).default(RUN_TIME_TO_LIVE_CAP).transform((value) => Math.min(value, RUN_TIME_TO_LIVE_CAP)),
  postToTimeline: z.boolean().default(false),
  slackChannels: z.array(SlackChannelSchema).max(20).default([]),
});

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

const SELECT = {
  id: true,
  incidentId: true,
  status: true,
  command: true,
  renderedCommand: true,
  appName: true,
  dynoSize: true,
  timeToLive: true,
  dynoName: true,
  exitStatus: true,
  output: true,
  outputTruncated: true,
  error: true,
  requestedBy: true,
  postToTimeline: true,
  slackChannels: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
} as const;

const liquid = createCommandLiquid();

export function registerActionRunRoutes(routes: RouteTable, deps: { db: Database; queues: Queues }) {
  const { prisma } = deps.db;
  const present = (row: NonNullable<Awaited<ReturnType<typeof findRun>>>) => ({
    ...row,
    createdAt: isoDate(row.createdAt),
    startedAt: isoDate(row.startedAt),
    finishedAt: isoDate(row.finishedAt),
  });
  const findRun = (id: string) => prisma.actionRun.findUnique({ where: { id }, select: SELECT });

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
      const incident = await prisma.incident.findUnique({ where: { id: params.id }, select: { id: true } });
      if (!incident) throw new AppError('not_found', 'no incident has this id');
      try {
        renderCommand(liquid, body.command, {});
      } catch (error) {
        if (error instanceof CommandTemplateError) throw new AppError('validation_failed', error.message);
        throw error;
      }
      const reachable = await prisma.herokuIntegration.count({
        where: { monitoredApps: { has: body.appName }, OR: [{ apiTokenCiphertext: { not: null } }, { oauthRefreshTokenCiphertext: { not: null } }] },
      });
      if (reachable === 0) throw new AppError('conflict', `no integration with a Heroku API token or OAuth connection monitors ${body.appName}`);
      const run = await prisma.actionRun.create({
        data: {
          incidentId: incident.id,
          kind: 'heroku-run',
          command: body.command,
          appName: body.appName,
          dynoSize: body.dynoSize,
          timeToLive: body.timeToLive,
          postToTimeline: body.postToTimeline,
          slackChannels: body.slackChannels,
          requestedBy: principal.name,
        },
        select: { id: true },
      });
      try {
        await deps.queues.enqueueRun(run.id);
      } catch {
        await prisma.actionRun.update({ where: { id: run.id }, data: { status: 'failed', error: 'the job queue (Redis) was unavailable; nothing ran', finishedAt: new Date() } });
        throw new AppError('unavailable', 'the job queue (Redis) is unavailable; try again');
      }
      return { status: 202, body: { runId: run.id } };
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
      const row = await findRun(params.id);
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
      const rows = await prisma.actionRun.findMany({ where: { incidentId: params.id }, select: SELECT, orderBy: { createdAt: 'desc' }, take: 100 });
      return { status: 200, body: { items: rows.map(present) } };
    },
  });
}
