import { z } from 'zod';
import type { Db } from '../db/client.js';
import { AppError } from '../errors.js';
import type { Queues } from '../queues/queues.js';
import { HerokuAppNameSchema, SlackChannelSchema } from '../services/service-store.js';
import { CommandTemplateError, createCommandLiquid, renderCommand } from './run-command.js';
import { RUN_TIME_TO_LIVE_CAP } from './execute-run.js';

/**
 * Command runs as responders ask for them, from the REST API or the incident page: what a
 * request accepts, how it is checked and queued, and how runs are read.
 */
export const RunRequestSchema = z.object({
  /** A Liquid template; `incident`, `service` and `app` are in scope and every value reaches the dyno as an environment variable. */
  command: z.string().trim().min(1).max(4_000),
  appName: HerokuAppNameSchema,
  dynoSize: z.enum(['standard-1X', 'standard-2X']).default('standard-1X'),
  /** Seconds; anything above the cap is cut to it. */
  timeToLive: z.number().int().min(1).default(RUN_TIME_TO_LIVE_CAP).transform((value) => Math.min(value, RUN_TIME_TO_LIVE_CAP)),
  postToTimeline: z.boolean().default(false),
  slackChannels: z.array(SlackChannelSchema).max(20).default([]),
});
export type RunRequest = z.output<typeof RunRequestSchema>;

export const RUN_SELECT = {
  id: true,
  incidentId: true,
  kind: true,
  status: true,
  command: true,
  renderedCommand: true,
  appName: true,
  dynoSize: true,
  timeToLive: true,
  dynoName: true,
  processType: true,
  targetReleaseId: true,
  targetVersion: true,
  expectedVersion: true,
  resultReleaseId: true,
  resultVersion: true,
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

/**
 * Checks a run request and queues it: the incident exists (not_found), the command is a valid
 * template for a command (validation_failed, naming why), an integration with Heroku
 * credentials monitors the app (conflict), and the queue takes it (unavailable: the run is
 * recorded as failed, nothing ran). Returns the run's id.
 */
export async function startRun(db: Db, queues: Pick<Queues, 'enqueueRun'>, incidentId: string, request: RunRequest, requestedBy: string): Promise<string> {
  const incident = await db.incident.findUnique({ where: { id: incidentId }, select: { id: true } });
  if (!incident) throw new AppError('not_found', 'no incident has this id');
  try {
    renderCommand(liquid, request.command, {});
  } catch (error) {
    if (error instanceof CommandTemplateError) throw new AppError('validation_failed', error.message);
    throw error;
  }
  const reachable = await db.herokuIntegration.count({
    where: { monitoredApps: { has: request.appName }, OR: [{ apiTokenCiphertext: { not: null } }, { oauthRefreshTokenCiphertext: { not: null } }] },
  });
  if (reachable === 0) throw new AppError('conflict', `no integration with a Heroku API token or OAuth connection monitors ${request.appName}`);
  const run = await db.actionRun.create({ data: { incidentId, kind: 'run', ...request, requestedBy }, select: { id: true } });
  try {
    await queues.enqueueRun(run.id);
  } catch {
    await db.actionRun.update({ where: { id: run.id }, data: { status: 'failed', error: 'the job queue (Redis) was unavailable; nothing ran', finishedAt: new Date() } });
    throw new AppError('unavailable', 'the job queue (Redis) is unavailable; try again');
  }
  return run.id;
}

export async function findRun(db: Db, id: string) {
  return db.actionRun.findUnique({ where: { id }, select: RUN_SELECT });
}

/** An incident's runs, newest first. */
export async function incidentRuns(db: Db, incidentId: string, limit: number) {
  return db.actionRun.findMany({ where: { incidentId }, select: RUN_SELECT, orderBy: { createdAt: 'desc' }, take: limit });
}
