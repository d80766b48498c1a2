import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { PacingWaitTooLong, type ChannelPacer } from './channel-pacer.js';
import { classifySlackError, SlackRateLimitedError } from './slack-client.js';
import { renderMessage, renderThreadReply, type Block, type SlackTemplates } from './message-templates.js';
import { routeToChannels, type RoutedService } from './routing.js';

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
const THREAD_KINDS = ['alert', 'acknowledged', 'resolved', 'action_run'];
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

/**
 * A post whose answer was lost (the worker died after Slack accepted it): find it by the token
 * in its metadata. Only possible when the channel's id is known; a channel given by name
 * that was never posted to before cannot be searched, and the message is posted again.
 */
async function findPosted(deps: SlackDeliveryDeps, channelId: string | null, token: string, threadTs?: string): Promise<string | null> {
  if (channelId === null) return null;
  try {
    const answer = threadTs
      ? await deps.slack.conversations.replies({ channel: channelId, ts: threadTs, include_all_metadata: true, limit: 200 })
      : await deps.slack.conversations.history({ channel: channelId, include_all_metadata: true, limit: 100 });
    const found = (answer.messages ?? []).find((message) => (message as { metadata?: { event_payload?: { token?: string } } }).metadata?.event_payload?.token === token);
    return found?.ts ?? null;
  } catch (error) {
    deps.logger.warn({ err: error, channelId }, 'could not search Slack for an earlier post; posting again');
    return null;
  }
}

async function knownChannelId(db: Queryable, target: string): Promise<string | null> {
  if (/^[CGD][A-Z0-9]{6,}$/.test(target)) return target;
  const { rows } = await db.query<{ channel: string }>('SELECT channel FROM slack_messages WHERE target = $1 AND channel IS NOT NULL LIMIT 1', [target]);
  return rows[0]?.channel ?? null;
}

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

const MESSAGE_COLUMNS = 'id, target, channel, ts, status, client_token, rendered_at, thread_seq::text, pending_reply_token, pending_reply_seq::text';

/**
 * Gets or creates the message row for a target; `created` says whether it is new (no earlier
 * attempt). `known` are the owner's rows already read, so an existing one costs no query.
 */
async function messageRow(db: Queryable, owner: { incidentId: string } | { pulseId: string }, target: string, known: MessageRow[] = []): Promise<{ row: MessageRow; created: boolean }> {
  const existing = known.find((row) => row.target === target);
  if (existing !== undefined) return { row: existing, created: false };
  const column = 'incidentId' in owner ? 'incident_id' : 'pulse_id';
  const ownerId = 'incidentId' in owner ? owner.incidentId : owner.pulseId;
  const inserted = await db.query<MessageRow>({
    name: `pb-slack-insert-${column}`,
    text: `INSERT INTO slack_messages (${column}, target, client_token) VALUES ($1, $2, $3) ON CONFLICT (${column}, target) DO NOTHING RETURNING ${MESSAGE_COLUMNS}`,
    values: [ownerId, target, randomUUID()],
  });
  if (inserted.rows[0]) return { row: inserted.rows[0], created: true };
  const { rows } = await db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM slack_messages WHERE ${column} = $1 AND target = $2`, [ownerId, target]);
  return { row: rows[0]!, created: false };
}

/** Posts the top-level message of a row once, adopting an earlier post found by its token. */
async function postRoot(
  deps: SlackDeliveryDeps,
  db: Queryable,
  row: MessageRow,
  created: boolean,
  message: { text: string; blocks: Block[] },
  after: (channel: string, ts: string) => Promise<void>,
  incidentId: string | null,
): Promise<boolean> {
  const channelId = created ? null : await knownChannelId(db, row.target);
  const earlier = created ? null : await findPosted(deps, channelId, row.client_token);
  if (earlier !== null && channelId !== null) {
    await after(channelId, earlier);
    return true;
  }
  const result = await call(deps, row.target, () =>
    deps.slack.chat.postMessage({
      channel: row.target,
      text: message.text,
      blocks: message.blocks,
      metadata: { event_type: METADATA_EVENT, event_payload: { token: row.client_token } },
      unfurl_links: false,
      unfurl_media: false,
    }),
  );
  if (!result.ok) {
    await recordFailure(deps, db, row, result.error, incidentId);
    return false;
  }
  await after(result.value.channel ?? row.target, result.value.ts ?? '');
  return true;
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
  suspect: { summary: string; version: string | null; commit_sha: string | null; actor_email: string | null; minutes_before: number } | null;
  /** Timeline entries that become thread replies, in order. */
  entries: ThreadEntry[];
  /** The incident's Slack message rows so far. */
  messages: MessageRow[];
}

type LockedIncidentRow = IncidentState & {
  services: RoutedService[];
  suspect: LoadedIncident['suspect'];
  entries: ThreadEntry[];
  messages: (Omit<MessageRow, 'rendered_at'> & { rendered_at: string | null })[];
};

/** The advisory lock key of an incident's Slack sync, as SQL over parameter `$n`. */
const lockKey = (n: number) => `hashtextextended('slack-incident:' || $${n}, 0)`;

/**
 * An incident's Slack lock, held on one connection for a whole sync. Taking it and reading the
 * incident are one round trip (`pulsebridge_slack_lock_incident`), and the sync's last write
 * releases it in the same statement, keeping a transaction-level hold until that write
 * commits: the next holder's read therefore sees it. Only a sync that ends without writing
 * (or on an error) spends a round trip on the release.
 */
class IncidentSlackLock {
  private held = true;

  private constructor(
    readonly db: pg.PoolClient,
    private readonly incidentId: string,
  ) {}

  /** Waits for the lock and reads everything the sync needs; null when the incident is gone. */
  static async acquire(pool: pg.Pool, incidentId: string): Promise<{ lock: IncidentSlackLock; loaded: LoadedIncident | null }> {
    const db = await pool.connect();
    const lock = new IncidentSlackLock(db, incidentId);
    try {
      const { rows } = await db.query<LockedIncidentRow>({
        name: 'pb-slack-lock-incident',
        text: 'SELECT * FROM pulsebridge_slack_lock_incident($1, $2)',
        values: [incidentId, THREAD_KINDS],
      });
      const row = rows[0];
      if (row === undefined) return { lock, loaded: null };
      const { services, suspect, entries, messages, ...incident } = row;
      const toMessage = (message: LockedIncidentRow['messages'][number]): MessageRow => ({ ...message, rendered_at: message.rendered_at === null ? null : new Date(message.rendered_at) });
      return { lock, loaded: { incident, services, suspect, entries, messages: messages.map(toMessage) } };
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
      values: [...query.values, this.incidentId],
    });
    this.held = false;
  }

  /** Releases the lock if no write did, and gives the connection back. */
  async release(): Promise<void> {
    if (this.held) {
      this.held = false;
      await this.db.query({ name: 'pb-slack-unlock', text: `SELECT pg_advisory_unlock(${lockKey(1)})`, values: [this.incidentId] }).catch(() => undefined);
    }
    this.db.release();
  }
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
  const { lock, loaded } = await IncidentSlackLock.acquire(deps.pool, incidentId);
  const db = lock.db;
  try {
    if (loaded === null) return { status: 'missing' };
    const { incident, services, suspect, entries, messages } = loaded;
    const targets = routeToChannels(services, deps.defaultChannel, 'incident');
    if (targets.length === 0) return { status: 'no_channels' };

    const scope = {
      incident: { ...incident, status_label: STATUS_LABEL[incident.status] ?? incident.status, url: `${deps.publicUrl}/incidents/${incident.id}`, triggered_at: incident.triggered_at.toISOString() },
      services: services.map((service) => service.name).join(', '),
      suspect,
    };
    const rendered = renderMessage(deps.templates, deps.templates.incident, scope);
    const blocks = incident.status === 'resolved' ? rendered.blocks : [...rendered.blocks, actionButtons(incident.id, incident.status)];
    const message = { text: rendered.text, blocks };
    const lastSeq = entries.length > 0 ? entries[entries.length - 1]!.seq : '0';
    const result = { status: 'synced' as const, posted: 0, updated: 0, replies: 0, failed: 0 };

    for (const [index, target] of targets.entries()) {
      // The last target's last write releases the lock.
      const lastTarget = index === targets.length - 1;
      const { row, created } = await messageRow(db, { incidentId }, target, messages);
      if (row.status === 'failed') continue;
      if (row.ts === null) {
        // The new message shows the state as it is, so the changes so far need no replies.
        const ok = await postRoot(deps, db, row, created, message, async (channel, ts) => {
          await lock.write({
            name: 'pb-slack-incident-posted',
            text: `UPDATE slack_messages SET channel = $2, ts = $3, status = 'posted', rendered_at = $4, thread_seq = $5, updated_at = now() WHERE id = $1`,
            values: [row.id, channel, ts, incident.updated_at, lastSeq],
          }, lastTarget);
        }, incidentId);
        if (ok) result.posted += 1;
        else result.failed += 1;
        continue;
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
    const earlier = await findPosted(deps, row.channel, row.pending_reply_token, row.ts!);
    if (earlier !== null) {
      covered = BigInt(row.pending_reply_seq);
      await db.query('UPDATE slack_messages SET thread_seq = $2, pending_reply_token = NULL, pending_reply_seq = NULL WHERE id = $1', [row.id, row.pending_reply_seq]);
    }
  }
  const fresh = entries.filter((entry) => BigInt(entry.seq) > covered);
  if (fresh.length === 0) return null;
  return { token: randomUUID(), upto: fresh[fresh.length - 1]!.seq, text: renderThreadReply(deps.templates, { changes: fresh.map((entry) => entry.message).join('\n') }) };
}

async function postReply(deps: SlackDeliveryDeps, lock: IncidentSlackLock, row: MessageRow, reply: PlannedReply, incidentId: string, last: boolean): Promise<boolean> {
  const posted = await call(deps, row.target, () =>
    deps.slack.chat.postMessage({ channel: row.channel!, thread_ts: row.ts!, text: reply.text, metadata: { event_type: METADATA_EVENT, event_payload: { token: reply.token } } }),
  );
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

function actionButtons(incidentId: string, status: string): Block {
  const elements: Block[] = [];
  if (status === 'triggered') {
    elements.push({ type: 'button', action_id: 'incident_acknowledge', text: { type: 'plain_text', text: 'Acknowledge' }, value: incidentId });
  }
  elements.push({ type: 'button', action_id: 'incident_resolve', text: { type: 'plain_text', text: 'Resolve' }, style: 'primary', value: incidentId });
  return { type: 'actions', block_id: `incident:${incidentId}`, elements };
}

/** Posts a pulse once to each routed channel. */
export async function postPulseToSlack(deps: SlackDeliveryDeps, pulseId: string): Promise<SyncResult> {
  const { rows } = await deps.pool.query<{
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
    messages: MessageRow[];
  }>({
    name: 'pb-slack-load-pulse',
    text: `SELECT p.id, p.kind::text, p.summary, p.app_name, p.status, p.version, p.commit_sha, p.actor_email, p.external_id, p.occurred_at, p.data,
            (SELECT COALESCE(json_agg(json_build_object('name', s.name, 'slackChannels', s.slack_channels, 'postPulses', s.post_pulses) ORDER BY s.name), '[]')
               FROM services s JOIN pulse_services l ON l.service_id = s.id WHERE l.pulse_id = p.id) AS services,
            (SELECT COALESCE(json_agg(json_build_object('id', m.id, 'target', m.target, 'channel', m.channel, 'ts', m.ts, 'status', m.status,
                                                        'client_token', m.client_token, 'rendered_at', NULL, 'thread_seq', m.thread_seq::text,
                                                        'pending_reply_token', NULL, 'pending_reply_seq', NULL)), '[]')
               FROM slack_messages m WHERE m.pulse_id = p.id) AS messages
       FROM pulses p WHERE p.id = $1`,
    values: [pulseId],
  });
  const loaded = rows[0];
  if (loaded === undefined) return { status: 'missing' };
  const { services, messages, ...pulse } = loaded;
  const targets = routeToChannels(services, deps.defaultChannel, 'pulse');
  if (targets.length === 0) return { status: 'no_channels' };
  const scope = {
    pulse: { ...pulse, occurred_at: pulse.occurred_at.toISOString() },
    services: services.filter((s) => s.postPulses).map((s) => s.name).join(', '),
  };
  const message = renderMessage(deps.templates, deps.templates.pulse[pulse.kind], scope);
  const result = { status: 'synced' as const, posted: 0, updated: 0, replies: 0, failed: 0 };
  for (const target of targets) {
    const { row, created } = await messageRow(deps.pool, { pulseId }, target, messages);
    if (row.status !== 'posting') continue;
    const ok = await postRoot(deps, deps.pool, row, created, message, async (channel, ts) => {
      await deps.pool.query({ name: 'pb-slack-pulse-posted', text: `UPDATE slack_messages SET channel = $2, ts = $3, status = 'posted', updated_at = now() WHERE id = $1`, values: [row.id, channel, ts] });
    }, null);
    if (ok) result.posted += 1;
    else result.failed += 1;
  }
  return result;
}
