-- A Slack delivery reads what it renders and records its intent to post (a message row per
-- channel, with the token that finds the post again if its answer is lost) in one statement:
-- routing moved here from the worker, so the row is written by the same round trip that reads.

-- Where an incident or a pulse goes: the channels of its linked services (for pulses, only the
-- services that post pulses), in service-name then listed order, each channel once (`#ops` and
-- `ops` are one); when that leaves none, the default channel, except for a pulse whose linked
-- services all chose not to post pulses.
-- (PL/pgSQL, here and below, because it keeps each statement's plan for the session; a SQL
-- function called with a sub-select argument is planned afresh on every call.)
CREATE FUNCTION pulsebridge_slack_targets(p_service_ids uuid[], p_kind text, p_default_channel text)
RETURNS text[]
LANGUAGE plpgsql
STABLE
AS $fn$
DECLARE
  routed text[];
BEGIN
  WITH linked AS (
    SELECT s.name, s.slack_channels, s.post_pulses FROM services s WHERE s.id = ANY(p_service_ids)
  ), chosen AS (
    SELECT l.name, l.slack_channels FROM linked l WHERE p_kind = 'incident' OR l.post_pulses
  ), listed AS (
    SELECT c.channel, lower(regexp_replace(c.channel, '^#', '')) AS key, l.name, c.ord
      FROM chosen l, unnest(l.slack_channels) WITH ORDINALITY AS c(channel, ord)
  ), firsts AS (
    SELECT DISTINCT ON (listed.key) listed.channel, listed.name, listed.ord FROM listed ORDER BY listed.key, listed.name, listed.ord
  )
  SELECT CASE
           WHEN EXISTS (SELECT 1 FROM listed) THEN (SELECT array_agg(f.channel ORDER BY f.name, f.ord) FROM firsts f)
           WHEN p_default_channel IS NULL THEN '{}'
           WHEN p_kind = 'pulse' AND EXISTS (SELECT 1 FROM linked) AND NOT EXISTS (SELECT 1 FROM chosen) THEN '{}'
           ELSE ARRAY[p_default_channel]
         END
    INTO routed;
  RETURN routed;
END;
$fn$;

-- Routes an incident or a pulse (give one id, the other NULL) and creates the missing message
-- rows of its channels, each with the token that finds its post again: the channels in order,
-- and the ids of the rows this call created.
CREATE FUNCTION pulsebridge_slack_route_messages(p_incident uuid, p_pulse uuid, p_default_channel text, OUT routed text[], OUT created_ids uuid[])
LANGUAGE plpgsql
VOLATILE
AS $fn$
BEGIN
  routed := pulsebridge_slack_targets(
    ARRAY(SELECT l.service_id FROM incident_services l WHERE l.incident_id = p_incident
          UNION ALL SELECT l.service_id FROM pulse_services l WHERE l.pulse_id = p_pulse),
    CASE WHEN p_incident IS NOT NULL THEN 'incident' ELSE 'pulse' END, p_default_channel);
  WITH inserted AS (
    INSERT INTO slack_messages (incident_id, pulse_id, target, client_token)
    SELECT p_incident, p_pulse, t.target, gen_random_uuid() FROM unnest(routed) AS t(target)
    ON CONFLICT DO NOTHING
    RETURNING slack_messages.id
  )
  SELECT COALESCE(array_agg(inserted.id), '{}') INTO created_ids FROM inserted;
END;
$fn$;

-- The message rows of an incident or a pulse as the worker reads them; `created` marks the rows
-- in p_created (made by the call that is reading them: no earlier attempt can have posted them).
CREATE FUNCTION pulsebridge_slack_messages_json(p_incident uuid, p_pulse uuid, p_created uuid[])
RETURNS json
LANGUAGE plpgsql
STABLE
AS $fn$
DECLARE
  result json;
BEGIN
  SELECT COALESCE(json_agg(json_build_object('id', m.id, 'target', m.target, 'channel', m.channel, 'ts', m.ts, 'status', m.status,
                                             'client_token', m.client_token, 'rendered_at', m.rendered_at, 'thread_seq', m.thread_seq::text,
                                             'pending_reply_token', m.pending_reply_token, 'pending_reply_seq', m.pending_reply_seq::text,
                                             'created', m.id = ANY(p_created))), '[]')
    INTO result
    FROM (SELECT * FROM slack_messages WHERE incident_id = p_incident
          UNION ALL SELECT * FROM slack_messages WHERE pulse_id = p_pulse) AS m;
  RETURN result;
END;
$fn$;

-- pulsebridge_slack_lock_incident (20261124180000_slack_sync_lock), which also creates the
-- message row of every channel the incident is routed to and has none yet. `targets` lists the
-- channels in routing order; a message's `created` says its row was made by this call, so no
-- earlier attempt can have posted it. The two-argument version stays for workers of the
-- previous release during a rolling deploy.
CREATE FUNCTION pulsebridge_slack_lock_incident(p_incident uuid, p_thread_kinds text[], p_default_channel text)
RETURNS TABLE (
  id uuid, number integer, title text, status text, severity text, app_name text, alert_count integer, dedup_key text,
  triggered_at timestamptz, updated_at timestamptz, acknowledged_by text, resolved_by text,
  services json, suspect json, entries json, targets json, messages json
)
LANGUAGE plpgsql
VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  routed text[];
  created_ids uuid[];
BEGIN
  PERFORM pg_advisory_lock(hashtextextended('slack-incident:' || p_incident, 0));
  PERFORM 1 FROM incidents i WHERE i.id = p_incident;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  SELECT r.routed, r.created_ids INTO routed, created_ids FROM pulsebridge_slack_route_messages(p_incident, NULL, p_default_channel) AS r;
  RETURN QUERY
  SELECT i.id, i.number, i.title, i.status::text, i.severity::text, i.app_name, i.alert_count, i.dedup_key, i.triggered_at, i.updated_at,
         i.acknowledged_by, i.resolved_by,
         (SELECT COALESCE(json_agg(json_build_object('name', s.name, 'slackChannels', s.slack_channels, 'postPulses', s.post_pulses) ORDER BY s.name), '[]')
            FROM services s JOIN incident_services l ON l.service_id = s.id WHERE l.incident_id = i.id),
         (SELECT json_build_object('summary', p.summary, 'version', p.version, 'commit_sha', p.commit_sha, 'actor_email', p.actor_email,
                                   'minutes_before', (t.data->>'minutes')::int)
            FROM timeline_entries t JOIN pulses p ON p.id = (t.data->>'pulseId')::uuid
           WHERE t.incident_id = i.id AND t.kind = 'suspect_deploy' LIMIT 1),
         (SELECT COALESCE(json_agg(json_build_object('seq', t.seq::text, 'kind', t.kind, 'message', t.message) ORDER BY t.seq), '[]')
            FROM timeline_entries t WHERE t.incident_id = i.id AND t.kind = ANY(p_thread_kinds)),
         to_json(routed),
         pulsebridge_slack_messages_json(p_incident, NULL, created_ids)
    FROM incidents i WHERE i.id = p_incident;
END;
$fn$;

-- A pulse as its Slack post needs it, with the message row of every channel it is routed to
-- created if missing (see pulsebridge_slack_lock_incident for `targets` and `created`), after
-- taking the pulse's Slack lock: posts of one pulse take turns as an incident's syncs do, and
-- the holder's last write releases it (deliver.ts).
CREATE FUNCTION pulsebridge_slack_claim_pulse(p_pulse uuid, p_default_channel text)
RETURNS TABLE (
  id uuid, kind text, summary text, app_name text, status text, version text, commit_sha text, actor_email text, external_id text,
  occurred_at timestamptz, data jsonb, services json, targets json, messages json
)
LANGUAGE plpgsql
VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  routed text[];
  created_ids uuid[];
BEGIN
  PERFORM pg_advisory_lock(hashtextextended('slack-pulse:' || p_pulse, 0));
  PERFORM 1 FROM pulses p WHERE p.id = p_pulse;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  SELECT r.routed, r.created_ids INTO routed, created_ids FROM pulsebridge_slack_route_messages(NULL, p_pulse, p_default_channel) AS r;
  RETURN QUERY
  SELECT p.id, p.kind::text, p.summary, p.app_name, p.status, p.version, p.commit_sha, p.actor_email, p.external_id, p.occurred_at, p.data,
         (SELECT COALESCE(json_agg(json_build_object('name', s.name, 'slackChannels', s.slack_channels, 'postPulses', s.post_pulses) ORDER BY s.name), '[]')
            FROM services s JOIN pulse_services l ON l.service_id = s.id WHERE l.pulse_id = p.id),
         to_json(routed),
         pulsebridge_slack_messages_json(NULL, p_pulse, created_ids)
    FROM pulses p WHERE p.id = p_pulse;
END;
$fn$;
