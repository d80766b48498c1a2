-- What a retried Slack post needs to know before it posts. A post whose answer was lost (its
-- worker died) is looked for in the channel by its token, so it is not posted twice; that search
-- costs Slack calls from a rate-limited tier, and most retries don't need it:
--   * `maybe_posted` is false while every attempt is known to have stopped before Slack took the
--     post (the channel was busy, or Slack answered 429): such a retry posts without searching,
--     and sets it true again just before it posts.
--   * the message rows tell when each was made (`created_at`): a search reads the channel only
--     from then on, one page of history in the usual case however busy the channel.
ALTER TABLE "slack_messages" ADD COLUMN "maybe_posted" BOOLEAN NOT NULL DEFAULT true;

-- Otherwise as in 20261124210000_slack_reads_fewer_statements.
CREATE OR REPLACE FUNCTION pulsebridge_slack_message_rows(p_incident uuid, p_pulse uuid, p_routed text[])
RETURNS json
LANGUAGE plpgsql
VOLATILE
AS $fn$
DECLARE
  result json;
BEGIN
  WITH created AS (
    INSERT INTO slack_messages (incident_id, pulse_id, target, client_token)
    SELECT p_incident, p_pulse, t.target, gen_random_uuid() FROM unnest(p_routed) AS t(target)
    ON CONFLICT DO NOTHING
    RETURNING *
  )
  SELECT COALESCE(json_agg(json_build_object('id', m.id, 'target', m.target, 'channel', m.channel, 'ts', m.ts, 'status', m.status,
                                             'client_token', m.client_token, 'rendered_at', m.rendered_at, 'thread_seq', m.thread_seq::text,
                                             'pending_reply_token', m.pending_reply_token, 'pending_reply_seq', m.pending_reply_seq::text,
                                             'created', m.is_new, 'created_at', m.created_at, 'maybe_posted', m.maybe_posted)), '[]')
    INTO result
    FROM (SELECT e.*, false AS is_new FROM slack_messages e WHERE e.incident_id = p_incident
          UNION ALL SELECT e.*, false FROM slack_messages e WHERE e.pulse_id = p_pulse
          UNION ALL SELECT c.*, true FROM created c) AS m;
  RETURN result;
END;
$fn$;
