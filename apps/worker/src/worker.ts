import { DelayedError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import {
  JOB_CATALOG,
  executeAppAction,
  startEscalator,
  autoResolveDueIncidents,
  endDueMaintenanceWindows,
  startIncidentPass,
  type ChangedIncident,
  executeWorkflowRun,
  startWorkflowDispatcher,
  WorkflowDispatcher,
  executeRun,
  herokuClientForApp,
  QUEUE_NAMES,
  SlackRateLimitedError,
  createChannelPacer,
  createSlackClient,
  EventProcessJobSchema,
  DrainEvaluator,
  DrainWindowStore,
  startDrainEvaluator,
  markEventsFailed,
  registerSlackQueueConcurrency,
  postPulseToSlack,
  syncIncidentToSlack,
  type JobName,
  type JobPayload,
  type RuleSet,
  type Runtime,
  type SlackDeliveryDeps,
  type SlackTemplates,
} from '@pulsebridge/core';
import { processEvents } from './processors/process-event.js';
import { startReconciler } from './reconciler.js';
import { createSlackNotifier } from './slack-notifier.js';
import { createSlackYield } from './slack-yield.js';

type Handlers = { [N in JobName]: (payload: JobPayload<N>, job: Job, token: string | undefined) => Promise<void> };

export interface Workers {
  /** Stops taking jobs, waits for running ones, stops the reconciler. */
  close(): Promise<void>;
}

/** Starts a BullMQ worker per queue and the reconciler, all on the runtime's clients. */
export function startWorkers(
  runtime: Runtime,
  options: { connection: Redis; rules: RuleSet; slackTemplates: SlackTemplates; concurrency?: number; reconcile?: boolean; evaluateDrains?: boolean },
): Workers {
  const { logger, metrics, db, config } = runtime;
  const slackClient = createSlackClient({ botToken: config.slack.botToken, apiUrl: config.slack.apiUrl });
  const slack: SlackDeliveryDeps | null =
    slackClient === null
      ? null
      : {
          pool: db.pool,
          slack: slackClient,
          templates: options.slackTemplates,
          pacer: createChannelPacer(runtime.redis, { prefix: config.queuePrefix, intervalMs: config.slack.channelIntervalMs, burst: config.slack.channelBurst }),
          logger,
          publicUrl: config.publicUrl,
          defaultChannel: config.slack.defaultChannel,
        };

  // Syncs right after an event never wait for a busy channel: they leave that to the queue.
  const notify =
    slack === null
      ? undefined
      : createSlackNotifier({
          slack: { ...slack, pacer: createChannelPacer(runtime.redis, { prefix: config.queuePrefix, intervalMs: config.slack.channelIntervalMs, burst: config.slack.channelBurst, maxWaitMs: 0 }) },
          queues: runtime.queues,
          inlineSyncs: config.slack.inlineSyncs,
          eventConcurrency: options.concurrency ?? config.worker.concurrency,
          metrics,
          logger,
        });

  const runDeps = {
    pool: db.pool,
    slack: slackClient,
    logger,
    ...(config.heroku.rendezvousCaFile !== undefined && { rendezvousCa: readFileSync(config.heroku.rendezvousCaFile) }),
    /** The client of the integration that monitors the app and can reach Heroku. */
    heroku: herokuClientForApp({ pool: db.pool, secretKey: config.secretKey, heroku: config.heroku }),
  };

  /** A Slack 429 (or a busy channel) delays the job without spending one of its attempts. */
  const withSlack = async (job: Job, token: string | undefined, deliver: (deps: SlackDeliveryDeps) => Promise<unknown>) => {
    if (slack === null) return;
    try {
      await deliver(slack);
    } catch (error) {
      if (error instanceof SlackRateLimitedError && token !== undefined) {
        await job.moveToDelayed(Date.now() + error.retryAfterMs, token);
        throw new DelayedError();
      }
      throw error;
    }
  };

  const onRuleFailure = () => metrics.eventRuleFailures.inc();

  // Typed against the catalog: a job name without a handler does not compile.
  const handlers: Handlers = {
    'event.process': (payload, job) => {
      const queueWaitMs = (job.processedOn ?? Date.now()) - job.timestamp;
      slackYield.noteEventQueueWait(queueWaitMs);
      metrics.eventJobEvents.observe(payload.eventRowIds.length);
      return processEvents(payload, { pool: db.pool, logger, rules: options.rules, onRuleFailure, ...(notify && { notify }) }, queueWaitMs);
    },
    'slack.incident': (payload, job, token) => withSlack(job, token, (deps) => syncIncidentToSlack(deps, payload.incidentId)),
    'slack.pulse': (payload, job, token) => withSlack(job, token, (deps) => postPulseToSlack(deps, payload.pulseId)),
    'workflow.run': async (payload) => {
      await executeWorkflowRun(
        { pool: db.pool, prisma: db.prisma, workflows: options.rules.workflows, runDeps, herokuFor: runDeps.heroku, slack: slackClient, slackDefaultChannel: config.slack.defaultChannel, publicUrl: config.publicUrl, logger },
        payload.workflowRunId,
      );
      const { rows } = await db.pool.query<{ id: string; updated_at: Date }>(
        'SELECT i.id, i.updated_at FROM incidents i JOIN workflow_runs w ON w.incident_id = i.id WHERE w.id = $1',
        [payload.workflowRunId],
      );
      if (slack !== null) await runtime.queues.enqueueSlackIncidents(rows.map((row) => ({ id: row.id, updatedAt: row.updated_at })));
    },
    'heroku.run': async (payload) => {
      const { rows: kinds } = await db.pool.query<{ kind: string }>('SELECT kind FROM action_runs WHERE id = $1', [payload.runId]);
      if (kinds[0]?.kind === 'rollback' || kinds[0]?.kind === 'restart') await executeAppAction({ pool: db.pool, herokuFor: runDeps.heroku }, payload.runId);
      else await executeRun(runDeps, payload.runId);
      const { rows } = await db.pool.query<{ id: string; updated_at: Date }>(
        'SELECT i.id, i.updated_at FROM incidents i JOIN action_runs r ON r.incident_id = i.id WHERE r.id = $1',
        [payload.runId],
      );
      if (slack !== null) await runtime.queues.enqueueSlackIncidents(rows.map((row) => ({ id: row.id, updatedAt: row.updated_at })));
    },
  };

  const run = async (job: Job, token?: string) => {
    const name = job.name as JobName;
    const entry = JOB_CATALOG[name];
    if (entry === undefined) throw new Error(`no handler for job ${job.name}`);
    const payload = entry.schema.parse(job.data);
    const started = performance.now();
    try {
      await (handlers[name] as (payload: unknown, job: Job, token: string | undefined) => Promise<void>)(payload, job, token);
      metrics.jobDuration.observe({ queue: job.queueName, name, outcome: 'completed' }, (performance.now() - started) / 1000);
    } catch (error) {
      const outcome = error instanceof DelayedError ? 'delayed' : 'failed';
      metrics.jobDuration.observe({ queue: job.queueName, name, outcome }, (performance.now() - started) / 1000);
      throw error;
    }
  };

  const eventsWorker = new Worker(QUEUE_NAMES.events, run, {
    connection: options.connection,
    prefix: runtime.config.queuePrefix,
    concurrency: options.concurrency ?? runtime.config.worker.concurrency,
    lockDuration: config.worker.lockMs,
    stalledInterval: config.worker.lockMs,
  });
  const slackWorker = new Worker(QUEUE_NAMES.slack, run, {
    connection: options.connection,
    prefix: runtime.config.queuePrefix,
    concurrency: config.slack.concurrency,
    lockDuration: config.worker.lockMs,
    stalledInterval: config.worker.lockMs,
  });
  slackWorker.on('error', (err) => logger.error({ err }, 'slack worker error'));
  const slackConcurrency = registerSlackQueueConcurrency(metrics);
  slackConcurrency.set(config.slack.concurrency);
  const slackYield = createSlackYield(slackWorker, { concurrency: config.slack.concurrency, onChange: (concurrency) => slackConcurrency.set(concurrency) });
  slackYield.start();
  const herokuWorker = new Worker(QUEUE_NAMES.heroku, run, {
    connection: options.connection,
    prefix: runtime.config.queuePrefix,
    concurrency: 5,
    // A run streams output for up to its time to live: keep the lock while it does.
    lockDuration: Math.max(config.worker.lockMs, 60_000),
  });
  herokuWorker.on('error', (err) => logger.error({ err }, 'heroku worker error'));
  slackWorker.on('failed', (job, err) => {
    if (job === undefined) return;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    metrics.jobFailures.inc({ queue: job.queueName, name: job.name, final: String(final) });
    logger[final ? 'error' : 'warn']({ err, jobId: job.id, attempt: job.attemptsMade }, final ? 'Slack job failed for good' : 'Slack job failed; will retry');
  });
  eventsWorker.on('error', (err) => logger.error({ err }, 'events worker error'));
  eventsWorker.on('failed', (job, err) => {
    if (job === undefined) return;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    metrics.jobFailures.inc({ queue: job.queueName, name: job.name, final: String(final) });
    const parsed = EventProcessJobSchema.safeParse(job.data);
    const eventRowIds = parsed.success ? parsed.data.eventRowIds : [];
    const log = logger.child({ jobId: job.id, eventRowIds });
    if (!final) {
      log.warn({ err, attempt: job.attemptsMade }, 'job failed; will retry');
      return;
    }
    log.error({ err }, 'job failed for good');
    // Its events not applied yet are marked; if this write fails too, they stay `received` and
    // the reconciler gives them jobs of their own.
    if (eventRowIds.length > 0) {
      void markEventsFailed(db.pool, eventRowIds, err.message).catch((markErr: unknown) => log.warn({ err: markErr }, 'could not mark events failed'));
    }
  });

  const reconciler =
    options.reconcile === false
      ? undefined
      : startReconciler({ pool: db.pool, queues: runtime.queues, metrics, logger }, runtime.config.reconcile, {
          redis: runtime.redis,
          prefix: config.queuePrefix,
          slack: slack !== null,
        });

  const drainEvaluator =
    options.evaluateDrains === false
      ? undefined
      : startDrainEvaluator(
          new DrainEvaluator({ pool: db.pool, windows: new DrainWindowStore(runtime.redis, config.queuePrefix), queues: runtime.queues, rules: options.rules.drains.rules, metrics, logger }),
          { intervalMs: config.drains.evaluateIntervalMs, logger },
        );

  // Workflows: the outbox triggers write only while some workflow is enabled.
  const dispatcher = new WorkflowDispatcher({ pool: db.pool, workflows: options.rules.workflows, queues: runtime.queues, logger, publicUrl: config.publicUrl });
  void dispatcher.configure().catch((err: unknown) => logger.warn({ err }, 'could not record whether workflows are enabled'));
  const workflowDispatcher = options.rules.workflows.workflows.length === 0 ? undefined : startWorkflowDispatcher(dispatcher, { intervalMs: config.workflows.dispatchIntervalMs, logger });

  // Incidents whose rule gives auto_resolve_minutes resolve themselves once quiet that long, and
  // maintenance windows that ended resolve or raise again what they suppressed.
  const slackCatchUp = async (incidents: ChangedIncident[]) => {
    if (slack !== null) await runtime.queues.enqueueSlackIncidents(incidents);
  };
  const incidentPasses =
    options.reconcile === false
      ? []
      : [
          startIncidentPass({ intervalMs: config.autoResolveIntervalMs, logger, what: 'auto-resolve', pass: () => autoResolveDueIncidents(db.pool), onChanged: slackCatchUp }),
          startIncidentPass({ intervalMs: config.autoResolveIntervalMs, logger, what: 'ending maintenance windows', pass: () => endDueMaintenanceWindows(db.pool), onChanged: slackCatchUp }),
        ];

  // Escalation until acknowledged: mentions in the incident's Slack threads (Slack on only).
  const escalator = options.reconcile === false || slackClient === null ? undefined : startEscalator({ pool: db.pool, slack: slackClient, logger, defaultPolicy: options.rules.escalation.policy, publicUrl: config.publicUrl }, { intervalMs: config.escalationIntervalMs });

  return {
    async close() {
      await escalator?.stop();
      for (const pass of incidentPasses) await pass.stop();
      await workflowDispatcher?.stop();
      await drainEvaluator?.stop();
      await reconciler?.stop();
      slackYield.stop();
      await Promise.all([eventsWorker.close(), slackWorker.close(), herokuWorker.close()]);
    },
  };
}
