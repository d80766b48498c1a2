import { createHmac } from 'node:crypto';

/**
 * Sends a Slack interaction (a button click) to pulsebridge as Slack does: the payload as a form
 * field, signed with the app's signing secret (`v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`).
 */
export async function sendSlackInteraction(baseUrl: string, signingSecret: string, payload: Record<string, unknown>): Promise<Response> {
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return fetch(`${baseUrl}/slack/interactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature },
    body,
  });
}
