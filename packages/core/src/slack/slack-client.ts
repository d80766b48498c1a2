import { WebClient } from '@slack/web-api';
import { slackHttpTransport } from './http-transport.js';

/**
 * The Slack Web API client, or null when no bot token is configured (Slack off). Retries are
 * BullMQ's job: the client's own default retries for half an hour and would fight them, and a
 * 429 must delay the job (and pace its channel), not block a worker slot.
 */
export function createSlackClient(options: { botToken: string | undefined; apiUrl: string; timeoutMs?: number }): WebClient | null {
  if (options.botToken === undefined) return null;
  return new WebClient(options.botToken, {
    slackApiUrl: options.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: options.timeoutMs ?? 10_000,
    fetch: slackHttpTransport,
  });
}

/** Errors a retry cannot fix: recorded where the user sees them, then no more attempts for that channel. */
export const PERMANENT_SLACK_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'missing_scope',
  'restricted_action',
  'msg_too_long',
  'invalid_blocks',
  'invalid_arguments',
  'message_not_found',
  'cant_update_message',
  'channel_is_archived',
]);

/** Slack asked us to wait (HTTP 429, or `rate_limited` in a 200 answer). */
export class SlackRateLimitedError extends Error {
  constructor(readonly retryAfterMs: number, readonly target: string) {
    super(`Slack rate limit for ${target}: retry in ${retryAfterMs} ms`);
    this.name = 'SlackRateLimitedError';
  }
}

export type SlackFailure = { kind: 'rate_limited'; retryAfterMs: number } | { kind: 'permanent'; error: string } | { kind: 'transient'; error: string };

/** Sorts an error from @slack/web-api into what pulsebridge does about it. */
export function classifySlackError(error: unknown): SlackFailure {
  const e = error as { code?: string; retryAfter?: number; data?: { error?: string }; statusCode?: number; message?: string };
  if (e.code === 'slack_webapi_rate_limited_error') return { kind: 'rate_limited', retryAfterMs: Math.max(1, e.retryAfter ?? 1) * 1000 };
  if (e.code === 'slack_webapi_platform_error') {
    const code = e.data?.error ?? 'unknown_error';
    if (code === 'rate_limited' || code === 'ratelimited') return { kind: 'rate_limited', retryAfterMs: 1000 };
    return PERMANENT_SLACK_ERRORS.has(code) ? { kind: 'permanent', error: code } : { kind: 'transient', error: code };
  }
  if (e.code === 'slack_webapi_http_error') return { kind: 'transient', error: `HTTP ${e.statusCode ?? '?'}` };
  return { kind: 'transient', error: e.message ?? String(error) };
}
