-- Slack delivery reads: where an incident or a pulse is posted, and the rows that record each
-- post, read under the lock that serializes deliveries of one incident or pulse.
--
-- Called by packages/core/src/slack/deliver.ts: `pulsebridge_slack_lock_incident` and
-- `pulsebridge_slack_claim_pulse` are each one round trip per delivery (lock, read, route,
-- create missing message rows, read them); the other two are their helpers.
--
-- pulsebridge_slack_route(services, kind, default_channel) -> text[]
--   Where an incident or a pulse goes, from its linked services as the reads list them (a jsonb
--   array of {name, slackChannels, postPulses} in service-name order): their channels in that
--   order, each channel once (`#ops` and `ops` are one; the first spelling wins); for a pulse,
--   only the channels of services that post pulses. When that leaves none, the default channel,
--   except for a pulse whose linked services all chose not to post pulses. Runs no query.
--
-- pulsebridge_slack_message_rows(incident, pulse, routed) -> json
--   Creates the missing message rows of an incident or a pulse (give one id, the other NULL) for
--   its routed channels, each with the token that finds its post again, and reads them all as
--   the worker reads them: `created` marks the rows this call made (no earlier attempt can have
--   posted them); `maybe_posted` and `created_at` tell a retried post whether, and from when, to
--   search the channel before posting again.
--
-- pulsebridge_slack_lock_incident(incident, thread_kinds, default_channel)
--   Takes the incident's Slack lock (a session advisory lock the worker releases after its last
--   write), reads the incident, its services, suspect deploy and thread entries, whether an
--   integration with Heroku credentials monitors its app (its message then offers rollback and
--   restart), routes it and claims its message rows.
--
-- pulsebridge_slack_claim_pulse(pulse, default_channel)
--   The same for a pulse.
--
-- Edit this file to change Slack routing or what a delivery reads; `npm run migrate` re-creates
-- the functions whose file changed (prisma/functions/README.md).

-- The lock function's first form (20261124180000_slack_sync_lock), before it took the default
-- channel: nothing calls it.
DROP FUNCTION IF EXISTS pulsebridge_slack_lock_incident(uuid, text[]);
-- Its return type gained `actionable` (rollback and restart buttons) and `suppressed`: re-created whole.
DROP FUNCTION IF EXISTS pulsebridge_slack_lock_incident(uuid, text[], text);

CREATE OR REPLACE FUNCTION pulsebridge_slack_route(p_services jsonb, p_kind text, p_default_channel text)
RETURNS text[]
LANGUAGE plpgsql
IMMUTABLE
AS $fn$
DECLARE
  service jsonb;
  channel text;
  channel_key text;
  routed text[] := '{}';
  seen text[] := '{}';
  any_chosen boolean := false;
BEGIN
  FOR i IN 0 .. jsonb_array_length(p_services) - 1 LOOP
    service := p_services -> i;
    CONTINUE WHEN p_kind = 'pulse' AND NOT (service ->> 'postPulses')::boolean;
    any_chosen := true;
    FOR j IN 0 .. jsonb_array_length(service -> 'slackChannels') - 1 LOOP
      channel := service -> 'slackChannels' ->> j;
      channel_key := lower(regexp_replace(channel, '^#', ''));
      IF NOT channel_key = ANY (seen) THEN
        seen := seen || channel_key;
        routed := routed || channel;
      END IF;
    END LOOP;
  END LOOP;
  IF cardinality(routed) > 0 THEN
    RETURN routed;
  END IF;
  IF p_default_channel IS NULL OR (p_kind = 'pulse' AND jsonb_array_length(p_services) > 0 AND NOT any_chosen) THEN
    RETURN '{}';
  END IF;
  RETURN ARRAY[p_default_channel];
END;
$fn$;

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

CREATE OR REPLACE FUNCTION pulsebridge_slack_lock_incident(p_incident uuid, p_thread_kinds text[], p_default_channel text)
RETURNS TABLE (
  id uuid, number integer, title text, status text, severity text, app_name text, alert_count integer, dedup_key text,
  entity text, triggered_at timestamptz, updated_at timestamptz, acknowledged_by text, resolved_by text, actionable boolean, suppressed boolean,
  services json, suspect json, entries json, targets json, messages json
)
LANGUAGE plpgsql
VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  linked jsonb;
  routed text[];
BEGIN
  PERFORM pg_advisory_lock(hashtextextended('slack-incident:' || p_incident, 0));
  SELECT i.id, i.number, i.title, i.status::text, i.severity::text, i.app_name, i.alert_count, i.dedup_key, i.entity, i.triggered_at, i.updated_at,
         i.acknowledged_by, i.resolved_by,
         i.app_name IS NOT NULL AND EXISTS (SELECT 1 FROM heroku_integrations h WHERE i.app_name = ANY(h.monitored_apps)
                                              AND (h.api_token_ciphertext IS NOT NULL OR h.oauth_refresh_token_ciphertext IS NOT NULL)),
         i.suppressed,
         (SELECT json_build_object('summary', p.summary, 'version', p.version, 'commit_sha', p.commit_sha, 'actor_email', p.actor_email,
                                   'minutes_before', (t.data->>'minutes')::int, 'kind', p.kind::text, 'app_name', p.app_name)
            FROM timeline_entries t JOIN pulses p ON p.id = (t.data->>'pulseId')::uuid
           WHERE t.incident_id = i.id AND t.kind = 'suspect_deploy' LIMIT 1),
         (SELECT COALESCE(json_agg(json_build_object('seq', t.seq::text, 'kind', t.kind, 'message', t.message) ORDER BY t.seq), '[]')
            FROM timeline_entries t WHERE t.incident_id = i.id AND t.kind = ANY(p_thread_kinds)),
         (SELECT COALESCE(jsonb_agg(jsonb_build_object('name', s.name, 'slackChannels', s.slack_channels, 'postPulses', s.post_pulses,
                                                       'posts', i.severity <= s.post_min_severity) ORDER BY s.name), '[]')
            FROM services s JOIN incident_services l ON l.service_id = s.id WHERE l.incident_id = i.id)
    INTO id, number, title, status, severity, app_name, alert_count, dedup_key, entity, triggered_at, updated_at, acknowledged_by, resolved_by,
         actionable, suppressed, suspect, entries, linked
    FROM incidents i WHERE i.id = p_incident;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  services := linked::json;
  -- A suppressed incident (opened in a maintenance window) goes nowhere until it is raised again;
  -- one below the severity every linked service posts stays in the UI. Otherwise the channels of
  -- the services that post it (or the default channel when they have none).
  routed := CASE
    WHEN suppressed THEN '{}'::text[]
    WHEN jsonb_array_length(linked) > 0 AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(linked) AS x(s) WHERE (x.s ->> 'posts')::boolean) THEN '{}'::text[]
    ELSE pulsebridge_slack_route((SELECT COALESCE(jsonb_agg(x.s ORDER BY x.n), '[]'::jsonb) FROM jsonb_array_elements(linked) WITH ORDINALITY AS x(s, n) WHERE (x.s ->> 'posts')::boolean), 'incident', p_default_channel)
  END;
  targets := to_json(routed);
  messages := pulsebridge_slack_message_rows(p_incident, NULL, routed);
  RETURN NEXT;
END;
$fn$;

CREATE OR REPLACE FUNCTION pulsebridge_slack_claim_pulse(p_pulse uuid, p_default_channel text)
RETURNS TABLE (
  id uuid, kind text, summary text, app_name text, status text, version text, commit_sha text, actor_email text, external_id text,
  occurred_at timestamptz, data jsonb, services json, targets json, messages json
)
LANGUAGE plpgsql
VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  linked jsonb;
  routed text[];
BEGIN
  PERFORM pg_advisory_lock(hashtextextended('slack-pulse:' || p_pulse, 0));
  SELECT p.id, p.kind::text, p.summary, p.app_name, p.status, p.version, p.commit_sha, p.actor_email, p.external_id, p.occurred_at, p.data,
         (SELECT COALESCE(jsonb_agg(jsonb_build_object('name', s.name, 'slackChannels', s.slack_channels, 'postPulses', s.post_pulses) ORDER BY s.name), '[]')
            FROM services s JOIN pulse_services l ON l.service_id = s.id WHERE l.pulse_id = p.id)
    INTO id, kind, summary, app_name, status, version, commit_sha, actor_email, external_id, occurred_at, data, linked
    FROM pulses p WHERE p.id = p_pulse;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  services := linked::json;
  routed := pulsebridge_slack_route(linked, 'pulse', p_default_channel);
  targets := to_json(routed);
  messages := pulsebridge_slack_message_rows(NULL, p_pulse, routed);
  RETURN NEXT;
END;
$fn$;
