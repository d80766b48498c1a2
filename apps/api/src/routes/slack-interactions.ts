import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import {
  AppError,
  escapeMrkdwn,
  truncateText,
  changeIncidentStatus,
  confirmation,
  DynoNameSchema,
  incidentAppName,
  ProcessTypeSchema,
  RESTART_ACTION,
  SILENCE_ACTION,
  SILENCE_MINUTES,
  HerokuAppNameSchema,
  createMaintenanceWindow,
  ROLLBACK_ACTION,
  startRestart,
  startRollback,
  type AppActionDeps,
  type RestartRequest,
  type Logger,
} from '@pulsebridge/core';
import type { WebClient } from '@slack/web-api';
import type pg from 'pg';
import { z } from 'zod';
import type { Redis } from 'ioredis';
import { isUuid } from '../ids.js';
import { SLACK_MAX_SKEW_SECONDS, rememberSlackRequest, settleSlackRequest, type SlackRequestSighting } from './remember-slack-request.js';

/** `X-Slack-Signature` = `v0=` + hex HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`). */
export function verifySlackSignature(secret: string, timestamp: string | undefined, body: Buffer, signature: string | undefined, nowSeconds = Date.now() / 1000): boolean {
  if (timestamp === undefined || signature === undefined || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > SLACK_MAX_SKEW_SECONDS) return false;
  const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Every interaction payload is an object naming its type; only `block_actions` (button clicks) is acted on. */
const InteractionSchema = z.object({ type: z.string() });
const BlockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string().optional(), username: z.string().optional(), name: z.string().optional() }).optional(),
  channel: z.object({ id: z.string().optional() }).optional(),
  actions: z.array(z.object({ action_id: z.string().optional(), value: z.string().optional() })),
});

/**
 * A Roll back button's value: the incident; for "roll back anyway", also the release chosen and
 * the version the person was told is current (the rollback is refused if it no longer is).
 */
const ROLLBACK_VALUE = /^([0-9a-f-]{36})(?: ([0-9a-f-]{36}) (\d{1,9}))?$/i;
/** A Restart button's value: the incident and what to restart. */
const RESTART_VALUE = /^([0-9a-f-]{36}) (dyno|type):(\S{1,60})$/i;

const ACTIONS: Record<string, 'acknowledge' | 'resolve'> = { incident_acknowledge: 'acknowledge', incident_resolve: 'resolve' };

/**
 * `POST /slack/interactions`: Acknowledge, Resolve, Roll back and Restart buttons on incident
 * messages. Same change as the REST API, recorded with the Slack user; the message then updates
 * itself, and a rollback's or restart's outcome reaches the thread. A refused rollback or restart
 * is told to the person who clicked (an ephemeral message); when the app has moved on since the
 * suspect deploy, that message asks again, naming the release.
 *
 * A signed request is taken once: its signature is remembered (in Redis, shared by every API
 * process) for as long as it could pass the five-minute check. A repeat is refused with 409,
 * except one carrying `X-Slack-Retry-Num` (Slack retrying a request we were slow to answer),
 * which gets 200 and does nothing again. That header is not signed, so it can only ever turn
 * a refusal into a no-op; a retry that arrives while the first request is still being acted on
 * gets 503, so Slack tries again once the outcome is known. A request that ends in a 5xx is
 * forgotten, so Slack's next retry acts.
 */
export function registerSlackInteractions(
  router: Router,
  deps: {
    pool: pg.Pool;
    redis: Redis;
    keyPrefix: string;
    signingSecret: string | undefined;
    logger: Logger;
    onIncidentChanged: (incidentId: string) => Promise<void>;
    /** Rollback and restart buttons act through these; the refusals reach the person who clicked as ephemeral messages. */
    actions: AppActionDeps;
    slack: WebClient | null;
  },
) {
  /** Tells the person who clicked (only them) why nothing was done, or what to confirm. */
  // The text is mrkdwn and holds Heroku's words (release descriptions, app names): escaped.
  const tell = async (payload: z.infer<typeof BlockActionsSchema>, text: string, blocks?: unknown[]) => {
    const channel = payload.channel?.id;
    const user = payload.user?.id;
    if (deps.slack === null || channel === undefined || user === undefined) return;
    await deps.slack.chat.postEphemeral({ channel, user, text: truncateText(escapeMrkdwn(text), 3_000), ...(blocks !== undefined && { blocks }) }).catch((error: unknown) => deps.logger.warn({ err: error }, 'could not tell a Slack user why their action was refused'));
  };

  /** A pulse's Silence click: a maintenance window over its app from now, told to the person who clicked. */
  const silence = async (payload: z.infer<typeof BlockActionsSchema>, appName: string | undefined, user: string) => {
    if (!HerokuAppNameSchema.safeParse(appName).success) return;
    try {
      const window = await createMaintenanceWindow(deps.actions.db, { appNames: [appName!], serviceIds: [], minutes: SILENCE_MINUTES, onEnd: 'reraise' }, user);
      await tell(payload, `Silenced ${appName} until ${window.endsAt.toISOString().slice(11, 16)} UTC: incidents that open on it meanwhile are recorded but not posted or escalated; those still open then are raised.`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      await tell(payload, `Not silenced: ${error.message}.`);
    }
  };

  /** A Roll back or Restart click: queued like the REST API's, or refused with the reason. */
  const act = async (payload: z.infer<typeof BlockActionsSchema>, action: { action_id?: string | undefined; value?: string | undefined }, user: string) => {
    try {
      if (action.action_id === ROLLBACK_ACTION) {
        const match = ROLLBACK_VALUE.exec(action.value ?? '');
        if (match === null || !isUuid(match[1]) || (match[2] !== undefined && !isUuid(match[2]))) return;
        await startRollback(deps.actions, match[1]!, match[2] === undefined ? {} : { releaseId: match[2], expectedVersion: Number(match[3]) }, user);
        return;
      }
      const match = RESTART_VALUE.exec(action.value ?? '');
      if (match === null || !isUuid(match[1])) return;
      const [, incidentId, kind, name] = match as unknown as [string, string, 'dyno' | 'type', string];
      if (!(kind === 'dyno' ? DynoNameSchema : ProcessTypeSchema).safeParse(name).success) return;
      const appName = await incidentAppName(deps.actions.db, incidentId);
      if (appName === null) return;
      const request: RestartRequest = kind === 'dyno' ? { appName, dyno: name } : { appName, processType: name };
      await startRestart(deps.actions, incidentId, request, user);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const details = error.details as { targetRelease?: { id: string; version: number }; currentRelease?: { version: number } } | undefined;
      const incidentId = (action.value ?? '').slice(0, 36);
      if (error.code === 'moved_on' && details?.targetRelease !== undefined && details.currentRelease !== undefined) {
        // Ask again rather than rolling back blindly: the same rollback, now naming its release.
        const again = `Roll back to v${details.targetRelease.version} anyway`;
        await tell(payload, `Nothing was rolled back: ${error.message}.`, [
          { type: 'section', text: { type: 'plain_text', text: `Nothing was rolled back: ${error.message}.`.slice(0, 3000) } },
          {
            type: 'actions',
            elements: [{ type: 'button', action_id: ROLLBACK_ACTION, style: 'danger', text: { type: 'plain_text', text: again }, value: `${incidentId} ${details.targetRelease.id} ${details.currentRelease.version}`, confirm: confirmation(`${again}?`, error.message, 'Roll back') }],
          },
        ]);
        return;
      }
      await tell(payload, `Nothing was done: ${error.message}.`);
    }
  };

  router.post('/slack/interactions', express.raw({ type: () => true, limit: '1mb' }), async (req: Request, res: Response) => {
    const fail = (status: number, code: string, message: string) => res.status(status).json({ error: { code, message, requestId: String(req.id ?? '') } });
    if (deps.signingSecret === undefined) return fail(404, 'not_configured', 'Slack interactivity needs SLACK_SIGNING_SECRET');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!verifySlackSignature(deps.signingSecret, req.header('x-slack-request-timestamp'), body, req.header('x-slack-signature'))) {
      return fail(401, 'bad_signature', 'X-Slack-Signature is missing, wrong or too old');
    }
    const seen = `${deps.keyPrefix}:slack-request:${req.header('x-slack-signature')}`;
    let sighting: SlackRequestSighting;
    try {
      sighting = await rememberSlackRequest(deps.redis, seen, Number(req.header('x-slack-request-timestamp')));
    } catch {
      // Without Redis a replay cannot be told from a new click: refuse rather than act twice.
      return fail(503, 'unavailable', 'Redis is unreachable; try again');
    }
    if (sighting !== 'first') {
      if (req.header('x-slack-retry-num') === undefined) return fail(409, 'replayed', 'this signed request was received before');
      // A retry of a request still being acted on: its outcome is not known yet, so Slack should try again later.
      if (sighting === 'pending') return fail(503, 'in_progress', 'this request is still being acted on; try again');
      return res.status(200).end();
    }
    res.on('finish', () => {
      settleSlackRequest(deps.redis, seen, res.statusCode).catch((error: unknown) => deps.logger.warn({ err: error }, 'could not record the outcome of a Slack request'));
    });
    let json: unknown;
    try {
      json = JSON.parse(new URLSearchParams(body.toString('utf8')).get('payload') ?? '');
    } catch {
      return fail(400, 'invalid_payload', 'expected a form field `payload` with JSON');
    }
    const interaction = InteractionSchema.safeParse(json);
    if (!interaction.success) return fail(400, 'invalid_payload', 'expected an interaction payload: an object with a string `type`');
    if (interaction.data.type !== 'block_actions') return res.status(200).end();
    const parsed = BlockActionsSchema.safeParse(json);
    if (!parsed.success) return fail(400, 'invalid_payload', 'a block_actions payload needs `actions`, a list of objects, and an optional `user` object');
    const payload = parsed.data;
    const user = payload.user?.name ?? payload.user?.username ?? payload.user?.id ?? 'someone';
    for (const action of payload.actions) {
      if (action.action_id === SILENCE_ACTION) {
        await silence(payload, action.value, `${user} (Slack)`);
        continue;
      }
      if (action.action_id === ROLLBACK_ACTION || action.action_id === RESTART_ACTION) {
        await act(payload, action, `${user} (Slack)`);
        continue;
      }
      const change = action.action_id ? ACTIONS[action.action_id] : undefined;
      if (change === undefined || !isUuid(action.value)) continue;
      const result = await changeIncidentStatus(deps.pool, action.value, change, `${user} (Slack)`);
      if (result.ok && result.changed) await deps.onIncidentChanged(action.value);
      else if (!result.ok) deps.logger.info({ incidentId: action.value, reason: result.reason, change }, 'Slack action not applied');
    }
    // Slack wants an answer within three seconds; the message update follows as its own job.
    res.status(200).end();
  });
}
