import type pg from 'pg';
import type { WebClient } from '@slack/web-api';
import { classifySlackError, SlackRateLimitedError } from './slack-client.js';

/** A Slack conversation id (`C…` public, `G…` private, `D…` direct), as opposed to a `#name`. */
const CHANNEL_ID = /^[CGD][A-Z0-9]{6,}$/;

/** Channels read per page, and pages at most (a workspace of up to 20,000 channels). */
const CHANNEL_PAGE = 1000;
const CHANNEL_PAGES = 20;

/**
 * Runs a Slack read whose answer decides whether something is sent: a rate limit or a transient
 * failure throws (the job retries later, instead of sending blind); a permanent refusal (a
 * missing scope, say) gives `{refused}` for the caller to decide.
 */
export async function slackRead<T>(target: string, read: () => Promise<T>): Promise<{ answer: T } | { refused: string }> {
  try {
    return { answer: await read() };
  } catch (error) {
    const failure = classifySlackError(error);
    if (failure.kind === 'rate_limited') throw new SlackRateLimitedError(failure.retryAfterMs, target);
    if (failure.kind === 'transient') throw new Error(`Slack ${target}: ${failure.error}`, { cause: error });
    return { refused: failure.error };
  }
}

/**
 * The id of a channel as configured (`#ops`, `ops` or `C0123ABC`): the id itself, the id Slack
 * answered with when something was last posted there, or else the id from the workspace's
 * channel list (scopes `channels:read`, and `groups:read` for private channels). `{refused}` when
 * Slack refused the list; null when no channel has that name.
 */
export async function channelIdOf(slack: WebClient, db: Pick<pg.Pool, 'query'>, target: string): Promise<string | null | { refused: string }> {
  if (CHANNEL_ID.test(target)) return target;
  const { rows } = await db.query<{ channel: string }>('SELECT channel FROM slack_messages WHERE target = $1 AND channel IS NOT NULL LIMIT 1', [target]);
  if (rows[0] !== undefined) return rows[0].channel;
  const name = target.replace(/^#/, '');
  let cursor: string | undefined;
  for (let page = 0; page < CHANNEL_PAGES; page += 1) {
    const read = await slackRead(target, () =>
      slack.conversations.list({ types: 'public_channel,private_channel', exclude_archived: true, limit: CHANNEL_PAGE, ...(cursor === undefined ? {} : { cursor }) }),
    );
    if ('refused' in read) return read;
    const channel = (read.answer.channels ?? []).find((c) => c.name === name || c.name_normalized === name);
    if (channel?.id !== undefined) return channel.id;
    cursor = read.answer.response_metadata?.next_cursor;
    if (!cursor) return null;
  }
  return null;
}
