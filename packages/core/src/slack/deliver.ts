import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { PacingWaitTooLong, type ChannelPacer } from './channel-pacer.js';
import { channelIdOf, slackRead } from './channel-ids.js';
import { classifySlackError, SlackRateLimitedError } from './slack-client.js';
import { renderMessage, renderThreadReply, type Block, type SlackTemplates } from './message-templates.js';
import { truncateText } from './mrkdwn.js';
import { restartTargetOf } from '../heroku/app-actions.js';

/** A service linked to an incident or pulse, as its message names it. */
export interface RoutedService {
  name: string;
  slackChannels: string[];
  postPulses: boolean;
}

/**
 * A pool, or the connection holding an incident's lock: both run the same queries. Queries run
 * for every Slack job are named (prepared once per connection), so PostgreSQL plans them once.
 */
type Queryable = Pick<pg.PoolClient, 'query'>;

export interface SlackDeliveryDeps {
  pool: pg.Pool;
  slack: WebClient;
  templates: SlackTemplates;
  pacer: ChannelPacer;
  logger: Logger;
  publicUrl: string;
  defaultChannel: string | undefined;
}

/** Timeline kinds that become thread replies (the trigger is the message itself). */
const THREAD_KINDS = ['alert', 'acknowledged', 'resolved', 'auto_resolved', 'action_run', 'workflow', 'severity'];
const METADATA_EVENT = 'pulsebridge_message';
const STATUS_LABEL: Record<string, string> = { triggered: 'Triggered', acknowledged: 'Acknowledged', resolved: 'Resolved' };

interface MessageRow {
  id: string;
  target: string;
  channel: string | null;
  ts: string | null;
  status: 'posting' | 'posted' | 'failed';
  client_token: string;
  rendered_at: Date | null;
  thread_seq: string;
  pending_reply_token: string | null;
  pending_reply_seq: string | null;
  /** Made by the read that returned it: no earlier attempt can have posted it. */
  created: boolean;
  /** When the row was made (ISO time): nothing was posted for it before then. */
  created_at: string;
  /** False when every attempt so far stopped before Slack took the post. */
  maybe_posted: boolean;
}

/** Runs one Slack call for a channel: paced, and with its failure sorted out. */
async function call<T>(deps: SlackDeliveryDeps, target: string, send: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    await deps.pacer.acquire(target);
  } catch (error) {
    if (error instanceof PacingWaitTooLong) throw new SlackRateLimitedError(error.waitMs, target);
    throw error;
  }
  try {
    return { ok: true, value: await send() };
  } catch (error) {
    const failure = classifySlackError(error);
    if (failure.kind === 'rate_limited') {
      await deps.pacer.block(target, failure.retryAfterMs);
      throw new SlackRateLimitedError(failure.retryAfterMs, target);
    }
    if (failure.kind === 'transient') throw new Error(`Slack ${target}: ${failure.error}`, { cause: error });
    return { ok: false, error: failure.error };
  }
}

/** Messages read per page, and pages at most, when looking for a post whose answer was lost. */
const SEARCH_PAGE = 200;
const SEARCH_PAGES = 5;

/**
 * A post whose answer was lost (the worker died after Slack accepted it): find it by the token
 * in its metadata, among the channel's messages since `oldest` (or the thread's replies).
 */
async function findPosted(deps: SlackDeliveryDeps, channelId: string, token: string, where: { oldest: string } | { threadTs: string }): Promise<string | null> {
  let cursor: string | undefined;
  for (let page = 0; page < SEARCH_PAGES; page += 1) {
    const paging = { include_all_metadata: true, limit: SEARCH_PAGE, ...(cursor === undefined ? {} : { cursor }) };
    const read = await slackRead(channelId, () =>
      'threadTs' in where
        ? deps.slack.conversations.replies({ channel: channelId, ts: where.threadTs, ...paging })
        : deps.slack.conversations.history({ channel: channelId, oldest: where.oldest, ...paging }),
    );
    if ('refused' in read) {
      deps.logger.warn({ channelId, error: read.refused }, 'Slack refused the search for an earlier post; posting again');
      return null;
    }
    const found = (read.answer.messages ?? []).find((message) => (message as { metadata?: { event_payload?: { token?: string } } }).metadata?.event_payload?.token === token);
    if (found?.ts !== undefined) return found.ts;
    cursor = read.answer.response_metadata?.next_cursor;
    if (read.answer.has_more !== true || !cursor) return null;
  }
  return null;
}

/** Slack's and PostgreSQL's clocks may differ: a post is looked for from this long before its row was made. */
const SEARCH_CLOCK_SKEW_MS = 60_000;

/** Slack's `ts` form of a time: seconds, six decimals. */
const slackTs = (ms: number) => (ms / 1000).toFixed(6);

async function recordFailure(deps: SlackDeliveryDeps, db: Queryable, row: MessageRow, error: string, incidentId: string | null) {
  await db.query(`UPDATE slack_messages SET status = 'failed', error = $2, updated_at = now() WHERE id = $1`, [row.id, error]);
  if (incidentId !== null) {
    await db.query(`INSERT INTO timeline_entries (incident_id, kind, message, data, actor) VALUES ($1, 'slack_error', $2, $3, 'slack')`, [
      incidentId,
      `Slack could not deliver to ${row.target}: ${error}`,
      JSON.stringify({ target: row.target, error }),
    ]);
  }
  deps.logger.warn({ target: row.target, error, incidentId }, 'Slack refused the message; not retrying this channel');
}

/**
 * The message row of a routed target. The read that routed the targets created the missing
 * rows (`pulsebridge_slack_lock_incident`, `pulsebridge_slack_claim_pulse`), so each target has one.
 */
function messageRow(messages: MessageRow[], target: string): MessageRow {
  const row = messages.find((message) => message.target === target);
  if (row === undefined) throw new Error(`no Slack message row for routed target ${target}`);
  return row;
}

/** Where a message was posted. */
interface Posted {
  channel: string;
  ts: string;
}

/**
 * Posts the top-level message of a row once, adopting an earlier post found by its token;
 * null when Slack refused it for good (recorded as failed).
 */
async function postRoot(
  deps: SlackDeliveryDeps,
  db: Queryable,
  row: MessageRow,
  message: { text: string; blocks: Block[] },
  after: (channel: string, ts: string) => Promise<void>,
  incidentId: string | null,
): Promise<Posted | null> {
  // An earlier attempt may have posted it, its answer lost: look before posting.
  const unsure = !row.created && row.maybe_posted;
  let channelId = unsure ? await channelIdOf(deps.slack, db, row.target) : null;
  if (channelId !== null && typeof channelId === 'object') {
    deps.logger.warn({ target: row.target, error: channelId.refused }, 'Slack refused the channel list; posting again');
    channelId = null;
  }
  const earlier = channelId === null ? null : await findPosted(deps, channelId, row.client_token, { oldest: slackTs(Date.parse(row.created_at) - SEARCH_CLOCK_SKEW_MS) });
  if (earlier !== null && channelId !== null) {
    await after(channelId, earlier);
    return { channel: channelId, ts: earlier };
  }
  let result;
  try {
    result = await call(deps, row.target, async () => {
      // From here on a retry cannot know whether Slack took the post: it searches first.
      if (!row.maybe_posted) await db.query({ name: 'pb-slack-maybe-posted', text: 'UPDATE slack_messages SET maybe_posted = true WHERE id = $1', values: [row.id] });
      return deps.slack.chat.postMessage({
        channel: row.target,
        text: message.text,
        blocks: message.blocks,
        metadata: { event_type: METADATA_EVENT, event_payload: { token: row.client_token } },
        unfurl_links: false,
        unfurl_media: false,
      });
    });
  } catch (error) {
    // A busy channel or a 429: Slack did not take it, and the retry need not search.
    if (error instanceof SlackRateLimitedError) await db.query({ name: 'pb-slack-not-posted', text: 'UPDATE slack_messages SET maybe_posted = false WHERE id = $1', values: [row.id] });
    throw error;
  }
  if (!result.ok) {
    await recordFailure(deps, db, row, result.error, incidentId);
    return null;
  }
  const posted = { channel: result.value.channel ?? row.target, ts: result.value.ts ?? '' };
  await after(posted.channel, posted.ts);
  return posted;
}

interface IncidentState {
  id: string;
  number: number;
  title: string;
  status: string;
  severity: string;
  app_name: string | null;
  alert_count: number;
  dedup_key: string;
  entity: string;
  /** Whether an integration with Heroku credentials monitors its app: the message offers rollback and restart. */
  actionable: boolean;
  triggered_at: Date;
  updated_at: Date;
  acknowledged_by: string | null;
  resolved_by: string | null;
}

interface ThreadEntry {
  seq: string;
  kind: string;
  message: string;
}

interface LoadedIncident {
  incident: IncidentState;
  services: RoutedService[];
  suspect: { summary: string; version: string | null; commit_sha: string | null; actor_email: string | null; minutes_before: number; kind: string; app_name: string | null } | null;
  /** Timeline entries that become thread replies, in order. */
  entries: ThreadEntry[];
  /** The channels the incident is routed to, in order. */
  targets: string[];
  /** The incident's Slack message rows, one at least per target. */
  messages: MessageRow[];
}

type LockedIncidentRow = IncidentState & {
  services: RoutedService[];
  suspect: LoadedIncident['suspect'];
  entries: ThreadEntry[];
  targets: string[];
  messages: (Omit<MessageRow, 'rendered_at'> & { rendered_at: string | null })[];
};

/** The advisory lock key of a message owner's Slack delivery, as SQL over parameter `$n`. */
const lockKey = (n: number) => `hashtextextended($${n}, 0)`;

/**
 * The Slack lock of an incident or a pulse, held on one connection for a whole delivery, so two
 * deliveries of one owner (jobs for several revisions, several workers, a job retried while
 * another runs) take turns and each sees what the one before it wrote. Taking it and reading
 * the owner are one round trip (`pulsebridge_slack_lock_incident`, `pulsebridge_slack_claim_pulse`,
 * which take the same key), and the delivery's last write releases it in the same statement,
 * keeping a transaction-level hold until that write commits: the next holder's read therefore
 * sees it. Only a delivery that ends without writing (or on an error) spends a round trip on
 * the release.
 */
class SlackLock {
  private held = true;

  private constructor(
    readonly db: pg.PoolClient,
    /** `slack-incident:<id>` or `slack-pulse:<id>`, as the SQL functions build it. */
    private readonly key: string,
  ) {}

  /** Takes a connection and runs `read`, which takes the lock; the lock is released if it fails. */
  static async acquire<T>(pool: pg.Pool, key: string, read: (db: pg.PoolClient) => Promise<T>): Promise<{ lock: SlackLock; loaded: T }> {
    const db = await pool.connect();
    const lock = new SlackLock(db, key);
    try {
      return { lock, loaded: await read(db) };
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** Runs a write (an UPDATE without RETURNING); `last` releases the lock with it. */
  async write(query: { name: string; text: string; values: unknown[] }, last: boolean): Promise<void> {
    if (!last || !this.held) {
      await this.db.query(query);
      return;
    }
    const key = lockKey(query.values.length + 1);
    await this.db.query({
      name: `${query.name}-unlock`,
      text: `WITH written AS (${query.text} RETURNING 1)
             SELECT pg_advisory_unlock(${key}) FROM (SELECT pg_advisory_xact_lock(${key}), count(*) FROM written) AS w`,
      values: [...query.values, this.key],
    });
    this.held = false;
  }

  /**
   * Releases the lock if no write did, and gives the connection back; a connection whose
   * release failed is closed instead (closing it releases its locks).
   */
  async release(): Promise<void> {
    let failed: Error | undefined;
    if (this.held) {
      this.held = false;
      await this.db.query({ name: 'pb-slack-unlock', text: `SELECT pg_advisory_unlock(${lockKey(1)})`, values: [this.key] }).catch((error: unknown) => {
        failed = error instanceof Error ? error : new Error(String(error));
      });
    }
    this.db.release(failed);
  }
}

/** Waits for an incident's lock and reads everything its sync needs, creating the message rows of its channels; null when the incident is gone. */
async function lockIncident(db: pg.PoolClient, incidentId: string, defaultChannel: string | undefined): Promise<LoadedIncident | null> {
  const { rows } = await db.query<LockedIncidentRow>({
    name: 'pb-slack-lock-incident',
    text: 'SELECT * FROM pulsebridge_slack_lock_incident($1, $2, $3)',
    values: [incidentId, THREAD_KINDS, defaultChannel ?? null],
  });
  const row = rows[0];
  if (row === undefined) return null;
  const { services, suspect, entries, targets, messages, ...incident } = row;
  const toMessage = (message: LockedIncidentRow['messages'][number]): MessageRow => ({ ...message, rendered_at: message.rendered_at === null ? null : new Date(message.rendered_at) });
  return { incident, services, suspect, entries, targets, messages: messages.map(toMessage) };
}

export type SyncResult = { status: 'synced'; posted: number; updated: number; replies: number; failed: number } | { status: 'missing' } | { status: 'no_channels' };

/**
 * Brings the incident's Slack messages in line with its current state: posts the message to
 * each routed channel once, updates it in place when the incident changed since it was
 * rendered, and adds one thread reply covering every change not yet posted. Serialized per
 * incident (advisory lock), and it always renders the latest state, so a job that runs late
 * can never overwrite a newer status; an interrupted run resumes where it stopped.
 */
export async function syncIncidentToSlack(deps: SlackDeliveryDeps, incidentId: string): Promise<SyncResult> {
  // Every query runs on the connection that holds the lock: one connection per sync.
  const { lock, loaded } = await SlackLock.acquire(deps.pool, `slack-incident:${incidentId}`, (db) => lockIncident(db, incidentId, deps.defaultChannel));
  const db = lock.db;
  try {
    if (loaded === null) return { status: 'missing' };
    const { incident, services, suspect, entries, targets, messages } = loaded;
    if (targets.length === 0) return { status: 'no_channels' };

    const scope = {
      incident: { ...incident, status_label: STATUS_LABEL[incident.status] ?? incident.status, url: `${deps.publicUrl}/incidents/${incident.id}`, triggered_at: incident.triggered_at.toISOString() },
      services: services.map((service) => service.name).join(', '),
      suspect,
    };
    const rendered = renderMessage(deps.templates, deps.templates.incident, scope, { title: incident.title, url: scope.incident.url });
    if (rendered.renderError !== undefined) deps.logger.warn({ incidentId, reason: rendered.renderError }, 'the incident template could not be rendered; posted the plain message');
    const blocks = incident.status === 'resolved' ? rendered.blocks : [...rendered.blocks, actionButtons(incident, suspect)];
    const message = { text: rendered.text, blocks };
    const result = { status: 'synced' as const, posted: 0, updated: 0, replies: 0, failed: 0 };

    for (const [index, target] of targets.entries()) {
      // The last target's last write releases the lock.
      const lastTarget = index === targets.length - 1;
      let row = messageRow(messages, target);
      if (row.status === 'failed') continue;
      if (row.ts === null) {
        // The thread tells the incident's whole history however late the message is posted:
        // changes made before the post get their reply right after it.
        const replyFollows = entries.length > 0;
        const posted = await postRoot(deps, db, row, message, async (channel, ts) => {
          await lock.write({
            name: 'pb-slack-incident-posted',
            text: `UPDATE slack_messages SET channel = $2, ts = $3, status = 'posted', rendered_at = $4, thread_seq = 0, updated_at = now() WHERE id = $1`,
            values: [row.id, channel, ts, incident.updated_at],
          }, lastTarget && !replyFollows);
        }, incidentId);
        if (posted === null) {
          result.failed += 1;
          continue;
        }
        result.posted += 1;
        if (!replyFollows) continue;
        row = { ...row, ...posted, status: 'posted', rendered_at: incident.updated_at, thread_seq: '0', pending_reply_token: null, pending_reply_seq: null };
      }
      const reply = await planReply(deps, db, row, entries);
      const stale = row.rendered_at === null || row.rendered_at.getTime() < incident.updated_at.getTime();
      if (stale) {
        const updated = await call(deps, row.target, () => deps.slack.chat.update({ channel: row.channel!, ts: row.ts!, text: message.text, blocks: message.blocks }));
        if (!updated.ok) {
          await recordFailure(deps, db, row, updated.error, incidentId);
          result.failed += 1;
          continue;
        }
        result.updated += 1;
      }
      // The new rendering and the reply about to be posted are recorded together.
      if (stale || reply !== null) {
        await lock.write({
          name: 'pb-slack-incident-rendered',
          text: `UPDATE slack_messages SET rendered_at = CASE WHEN $2 THEN $3 ELSE rendered_at END, pending_reply_token = $4, pending_reply_seq = $5, updated_at = now() WHERE id = $1`,
          values: [row.id, stale, incident.updated_at, reply?.token ?? null, reply?.upto ?? null],
        }, lastTarget && reply === null);
      }
      if (reply !== null && (await postReply(deps, lock, row, reply, incidentId, lastTarget))) result.replies += 1;
    }
    return result;
  } finally {
    await lock.release();
  }
}

interface PlannedReply {
  token: string;
  upto: string;
  text: string;
}

/**
 * The one reply covering every change after the last one posted in the thread, or null. A
 * reply recorded as pending by an interrupted run counts as posted when Slack has it.
 */
async function planReply(deps: SlackDeliveryDeps, db: Queryable, row: MessageRow, entries: ThreadEntry[]): Promise<PlannedReply | null> {
  let covered = BigInt(row.thread_seq);
  if (row.pending_reply_token !== null && row.pending_reply_seq !== null) {
    const earlier = row.channel === null ? null : await findPosted(deps, row.channel, row.pending_reply_token, { threadTs: row.ts! });
    if (earlier !== null) {
      covered = BigInt(row.pending_reply_seq);
      await db.query('UPDATE slack_messages SET thread_seq = $2, pending_reply_token = NULL, pending_reply_seq = NULL WHERE id = $1', [row.id, row.pending_reply_seq]);
    }
  }
  const fresh = entries.filter((entry) => BigInt(entry.seq) > covered);
  if (fresh.length === 0) return null;
  return { token: randomUUID(), upto: fresh[fresh.length - 1]!.seq, text: renderThreadReply(deps.templates, { changes: fresh.map((entry) => entry.message).join('\n') }) };
}

async function postReply(deps: SlackDeliveryDeps, lock: SlackLock, row: MessageRow, reply: PlannedReply, incidentId: string, last: boolean): Promise<boolean> {
  let posted;
  try {
    posted = await call(deps, row.target, () =>
      deps.slack.chat.postMessage({ channel: row.channel!, thread_ts: row.ts!, text: reply.text, metadata: { event_type: METADATA_EVENT, event_payload: { token: reply.token } } }),
    );
  } catch (error) {
    // Slack did not take it (a busy channel, a 429): no pending reply for a retry to look for.
    if (error instanceof SlackRateLimitedError) {
      await lock.db.query({ name: 'pb-slack-reply-not-posted', text: 'UPDATE slack_messages SET pending_reply_token = NULL, pending_reply_seq = NULL WHERE id = $1', values: [row.id] });
    }
    throw error;
  }
  if (!posted.ok) {
    await recordFailure(deps, lock.db, row, posted.error, incidentId);
    return false;
  }
  await lock.write({
    name: 'pb-slack-reply-posted',
    text: 'UPDATE slack_messages SET thread_seq = $2, pending_reply_token = NULL, pending_reply_seq = NULL, updated_at = now() WHERE id = $1',
    values: [row.id, reply.upto],
  }, last);
  return true;
}

/**
 * The buttons of an open incident's message: Acknowledge (while triggered) and Resolve; when an
 * integration with Heroku credentials monitors its app, Roll back (when its suspect deploy is a
 * release) and Restart (when it names a dyno or a process type), each behind a confirmation.
 * Their texts are plain text: nothing from a payload is read as markup.
 */
function actionButtons(incident: IncidentState, suspect: LoadedIncident['suspect']): Block {
  const elements: Block[] = [];
  if (incident.status === 'triggered') {
    elements.push({ type: 'button', action_id: 'incident_acknowledge', text: { type: 'plain_text', text: 'Acknowledge' }, value: incident.id });
  }
  elements.push({ type: 'button', action_id: 'incident_resolve', text: { type: 'plain_text', text: 'Resolve' }, style: 'primary', value: incident.id });
  const app = incident.app_name;
  if (incident.actionable && app !== null) {
    // A suspect found through a shared service may be another app's release: only the incident's own app's is rolled back.
    if (suspect?.kind === 'release' && suspect.app_name === app) {
      const version = /^v?(\d+)$/.exec(suspect.version ?? '')?.[1];
      const to = version !== undefined && Number(version) > 1 ? `v${Number(version) - 1}` : 'the release before';
      elements.push({
        type: 'button',
        action_id: ROLLBACK_ACTION,
        text: { type: 'plain_text', text: truncateText(`Roll back to ${to}`, 75) },
        style: 'danger',
        value: incident.id,
        confirm: confirmation(`Roll back ${app}?`, `Roll ${app} back to ${to}, the release before ${suspect.version ?? suspect.summary}? Heroku makes a new release with its code and config. pulsebridge checks first that the app has not moved on.`, 'Roll back'),
      });
    }
    const target = restartTargetOf({ appName: app, entity: incident.entity, dedupKey: incident.dedup_key });
    if (target !== null) {
      const what = 'dyno' in target ? target.dyno : `${target.processType} dynos`;
      elements.push({
        type: 'button',
        action_id: RESTART_ACTION,
        text: { type: 'plain_text', text: truncateText(`Restart ${what}`, 75) },
        value: `${incident.id} ${'dyno' in target ? `dyno:${target.dyno}` : `type:${target.processType}`}`,
        confirm: confirmation(`Restart ${what}?`, `Restart ${what} on ${app}? Heroku stops and starts ${'dyno' in target ? 'it' : 'them'}.`, 'Restart'),
      });
    }
  }
  return { type: 'actions', block_id: `incident:${incident.id}`, elements };
}

/** Slack's confirmation dialog for a button (plain text, within Slack's lengths). */
export function confirmation(title: string, text: string, confirm: string): Record<string, unknown> {
  return {
    title: { type: 'plain_text', text: truncateText(title, 100) },
    text: { type: 'plain_text', text: truncateText(text, 300) },
    confirm: { type: 'plain_text', text: confirm },
    deny: { type: 'plain_text', text: 'Cancel' },
    style: 'danger',
  };
}

/** How long the Silence button of a pulse silences its app. */
export const SILENCE_MINUTES = 30;
export const SILENCE_ACTION = 'pulse_silence';

/** "Silence <app> for 30 min": a maintenance window over the app, whose still-open incidents are raised when it ends. */
function silenceButton(appName: string): Block {
  return {
    type: 'actions',
    elements: [
      {
        type: 'button',
        action_id: SILENCE_ACTION,
        text: { type: 'plain_text', text: truncateText(`Silence ${appName} for ${SILENCE_MINUTES} min`, 75) },
        value: appName,
        confirm: confirmation(
          `Silence ${appName} for ${SILENCE_MINUTES} min?`,
          `Incidents that open on ${appName} in the next ${SILENCE_MINUTES} minutes are recorded but not posted or escalated; those still open when it ends are raised then.`,
          'Silence',
        ),
      },
    ],
  };
}

/** Action ids of the buttons that act on Heroku. */
export const ROLLBACK_ACTION = 'incident_rollback';
export const RESTART_ACTION = 'incident_restart';

interface ClaimedPulse {
  id: string;
  kind: 'build' | 'release' | 'deploy';
  summary: string;
  app_name: string | null;
  status: string | null;
  version: string | null;
  commit_sha: string | null;
  actor_email: string | null;
  external_id: string | null;
  occurred_at: Date;
  data: Record<string, unknown>;
  services: RoutedService[];
  targets: string[];
  messages: MessageRow[];
}

/**
 * Posts a pulse once to each routed channel. Under the pulse's lock: a delivery that starts while
 * another one of the same pulse is posting (a job retried after its worker died, say) waits for
 * it and then finds its messages posted.
 */
export async function postPulseToSlack(deps: SlackDeliveryDeps, pulseId: string): Promise<SyncResult> {
  // One round trip takes the lock, reads the pulse and creates the message rows of its channels.
  const { lock, loaded } = await SlackLock.acquire(deps.pool, `slack-pulse:${pulseId}`, async (db) => {
    const { rows } = await db.query<ClaimedPulse>({
      name: 'pb-slack-claim-pulse',
      text: 'SELECT * FROM pulsebridge_slack_claim_pulse($1, $2)',
      values: [pulseId, deps.defaultChannel ?? null],
    });
    return rows[0] ?? null;
  });
  try {
    if (loaded === null) return { status: 'missing' };
    const { services, targets, messages, ...pulse } = loaded;
    if (targets.length === 0) return { status: 'no_channels' };
    const scope = {
      pulse: { ...pulse, occurred_at: pulse.occurred_at.toISOString() },
      services: services.filter((s) => s.postPulses).map((s) => s.name).join(', '),
    };
    const rendered = renderMessage(deps.templates, deps.templates.pulse[pulse.kind], scope, { title: pulse.summary });
    if (rendered.renderError !== undefined) deps.logger.warn({ pulseId: pulse.id, reason: rendered.renderError }, 'the pulse template could not be rendered; posted the plain message');
    // A deploy is when pages are least wanted: a button silences its app for a while.
    const message = pulse.app_name === null ? rendered : { ...rendered, blocks: [...rendered.blocks, silenceButton(pulse.app_name)] };
    const result = { status: 'synced' as const, posted: 0, updated: 0, replies: 0, failed: 0 };
    for (const [index, target] of targets.entries()) {
      const row = messageRow(messages, target);
      if (row.status !== 'posting') continue;
      const posted = await postRoot(deps, lock.db, row, message, async (channel, ts) => {
        await lock.write({
          name: 'pb-slack-pulse-posted',
          text: `UPDATE slack_messages SET channel = $2, ts = $3, status = 'posted', updated_at = now() WHERE id = $1`,
          values: [row.id, channel, ts],
        }, index === targets.length - 1);
      }, null);
      if (posted !== null) result.posted += 1;
      else result.failed += 1;
    }
    return result;
  } finally {
    await lock.release();
  }
}
