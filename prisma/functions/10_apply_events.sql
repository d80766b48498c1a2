-- Applying events: how Heroku events become incidents, timeline entries and deployment pulses.
--
-- The worker maps each event to commands in TypeScript (rules are data: packages/core/src/rules/
-- and config/; planEvent in packages/core/src/incidents/apply-event.ts) and sends the plans
-- here, so applying them is one round trip and one transaction however many commands they hold.
-- Called by applyPlannedEvents (`SELECT pulsebridge_apply_events($1::jsonb, $2)`). The suspect
-- deploy rule is restated for pages that list suspects in packages/core/src/incidents/
-- suspect-deploys.ts; test/integration/query-plans.test.ts checks the plans of these statements.
--
-- pulsebridge_apply_event(event, commands, skip_reason, replay) -> jsonb
--   Locks the event row; skips it (with the reason) or applies its incident commands, sorted by
--   dedup key so two events lock keys in the same order: trigger (open an incident, or count one
--   more alert on the open one with the same key; a trigger older than the key's last resolve is
--   late and ignored), resolve (only an incident opened before the event happened) and note (an
--   incident resolved on arrival). Each rule acts once per event (applied_rules), so a replay adds
--   nothing twice. Links incidents and pulses to the services that hold the app, names the
--   suspect deploy (the latest release or deploy that went out on the app within the window
--   before the incident), creates pulses (one per dedup key) and marks the event processed.
--   Returns what it touched, for Slack delivery and metrics. Generic plans: the statements run
--   thousands of times with different values and the custom plans cost more than they save.
--
-- pulsebridge_apply_events(events, replay) -> jsonb
--   Applies a batch of planned events in one transaction, in the order the ingest stores rows
--   (event id, then integration), so batches never deadlock with each other or with the ingest.
--
-- Edit this file to change how events are applied; `npm run migrate` re-creates the functions
-- whose file changed (prisma/functions/README.md).

CREATE OR REPLACE FUNCTION pulsebridge_apply_event(p_event uuid, p_commands jsonb, p_skip_reason text, p_replay boolean)
RETURNS jsonb
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  ev RECORD;
  cmd jsonb;
  event_time timestamptz;
  event_time_text text;
  service_ids uuid[];
  last_resolved timestamptz;
  open_incident RECORD;
  new_severity "Severity";
  raised boolean;
  have_incident boolean;
  late boolean;
  new_incident_id uuid;
  incident_updated timestamptz;
  new_pulse_id uuid;
  suspect RECORD;
  suspect_minutes integer;
  maintenance RECORD;
  touched_incidents jsonb := '[]'::jsonb;
  touched_pulses jsonb := '[]'::jsonb;
  opened_count integer := 0;
  grouped_count integer := 0;
  resolved_count integer := 0;
  pulses_created integer := 0;
  noted_count integer := 0;
BEGIN
  SELECT e.id, e.status, e.app_name, e.entity, e.occurred_at, e.received_at INTO ev FROM events e WHERE e.id = p_event FOR UPDATE;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('status', 'missing');
  END IF;
  IF NOT p_replay AND ev.status IN ('processed', 'skipped') THEN
    RETURN jsonb_build_object('status', 'already_done');
  END IF;
  IF p_skip_reason IS NOT NULL THEN
    UPDATE events SET status = 'skipped', error = p_skip_reason, processed_at = now() WHERE id = p_event;
    RETURN jsonb_build_object('status', 'skipped', 'reason', p_skip_reason);
  END IF;

  event_time := COALESCE(ev.occurred_at, ev.received_at);
  event_time_text := to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
  IF ev.app_name IS NULL THEN
    service_ids := '{}';
  ELSE
    SELECT COALESCE(array_agg(s.id ORDER BY s.id), '{}') INTO service_ids FROM services s WHERE s.heroku_app_names @> ARRAY[ev.app_name];
  END IF;

  -- Incident commands arrive sorted by dedup key: two events touching the same keys lock them
  -- in the same order and cannot deadlock.
  FOR cmd IN SELECT value FROM jsonb_array_elements(p_commands -> 'incidents') LOOP
    INSERT INTO applied_rules (event_id, rule) VALUES (p_event, cmd ->> 'rule') ON CONFLICT DO NOTHING;
    CONTINUE WHEN NOT FOUND;

    IF cmd ->> 'type' = 'incident.trigger' THEN
      -- The no-op update takes the key's row lock.
      INSERT INTO incident_keys (dedup_key) VALUES (cmd ->> 'dedupKey')
        ON CONFLICT (dedup_key) DO UPDATE SET dedup_key = EXCLUDED.dedup_key
        RETURNING last_resolved_at INTO last_resolved;
      SELECT i.id, i.severity, i.triggered_at INTO open_incident FROM incidents i WHERE i.dedup_key = cmd ->> 'dedupKey' AND i.status <> 'resolved';
      have_incident := FOUND;
      -- A trigger that happened before the latest recovery but is applied after it (delivered
      -- late, or applied by another worker first) belongs to the incident that was open when it
      -- happened; it never reopens one.
      late := NOT have_incident AND last_resolved IS NOT NULL AND event_time <= last_resolved;
      IF late THEN
        SELECT i.id, i.severity, i.triggered_at INTO open_incident FROM incidents i
         WHERE i.dedup_key = cmd ->> 'dedupKey' AND i.triggered_at <= event_time AND (i.resolved_event_at IS NULL OR i.resolved_event_at >= event_time)
         ORDER BY i.triggered_at DESC LIMIT 1;
        have_incident := FOUND;
      END IF;
      IF have_incident THEN
        new_severity := LEAST(open_incident.severity, (cmd ->> 'severity')::"Severity");
        raised := new_severity <> open_incident.severity;
        -- updated_at only ever grows per incident (NEXT_UPDATED_AT in incident-actions.ts).
        UPDATE incidents SET alert_count = alert_count + 1, updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 millisecond'), severity = new_severity,
               title = CASE WHEN raised THEN cmd ->> 'title' ELSE title END,
               last_alert_at = clock_timestamp(), auto_resolve_minutes = (cmd ->> 'autoResolveMinutes')::integer
         WHERE id = open_incident.id RETURNING updated_at INTO incident_updated;
        touched_incidents := touched_incidents || jsonb_build_object('id', open_incident.id, 'updatedAt', (extract(epoch FROM incident_updated) * 1000)::bigint);
        INSERT INTO timeline_entries (incident_id, kind, message, data, event_id)
          VALUES (open_incident.id, 'alert',
                  CASE WHEN late THEN 'Alert from before the recovery' ELSE 'Alert' END
                    || CASE WHEN raised THEN format(' raised severity to %s: %s', new_severity, cmd ->> 'title') ELSE ': ' || (cmd ->> 'title') END,
                  jsonb_build_object('rule', cmd ->> 'rule', 'severity', cmd ->> 'severity', 'occurredAt', event_time_text), p_event)
          ON CONFLICT (incident_id, event_id, kind) DO NOTHING;
        INSERT INTO incident_services (incident_id, service_id) SELECT open_incident.id, unnest(service_ids) ON CONFLICT DO NOTHING;
        grouped_count := grouped_count + 1;
      ELSE
        -- A new incident; one whose recovery was already reported is recorded as resolved.
        INSERT INTO incidents (title, severity, dedup_key, app_name, entity, triggered_at, status, resolved_at, resolved_by, resolved_event_at, last_alert_at, auto_resolve_minutes)
          VALUES (cmd ->> 'title', (cmd ->> 'severity')::"Severity", cmd ->> 'dedupKey', ev.app_name, ev.entity, event_time,
                  CASE WHEN late THEN 'resolved'::"IncidentStatus" ELSE 'triggered'::"IncidentStatus" END,
                  CASE WHEN late THEN now() END, CASE WHEN late THEN 'heroku (recovered before this alert was applied)' END,
                  CASE WHEN late THEN last_resolved END, clock_timestamp(), (cmd ->> 'autoResolveMinutes')::integer)
          RETURNING id, updated_at INTO new_incident_id, incident_updated;
        touched_incidents := touched_incidents || jsonb_build_object('id', new_incident_id, 'updatedAt', (extract(epoch FROM incident_updated) * 1000)::bigint, 'opened', true);
        INSERT INTO incident_services (incident_id, service_id) SELECT new_incident_id, unnest(service_ids) ON CONFLICT DO NOTHING;
        INSERT INTO timeline_entries (incident_id, kind, message, data, event_id)
          VALUES (new_incident_id, 'triggered', 'Triggered: ' || (cmd ->> 'title'),
                  jsonb_build_object('rule', cmd ->> 'rule', 'severity', cmd ->> 'severity', 'occurredAt', event_time_text), p_event)
          ON CONFLICT (incident_id, event_id, kind) DO NOTHING;
        -- Opened during a maintenance window of its app or one of its services: suppressed (not
        -- posted or escalated) until the window ends.
        IF NOT late THEN
          SELECT w.id, w.ends_at INTO maintenance FROM maintenance_windows w
           WHERE w.ended_at IS NULL AND w.starts_at <= event_time AND w.ends_at > event_time
             AND ((ev.app_name IS NOT NULL AND ev.app_name = ANY(w.app_names)) OR w.service_ids && ARRAY(SELECT l.service_id FROM incident_services l WHERE l.incident_id = new_incident_id))
           ORDER BY w.ends_at DESC LIMIT 1
           -- Held until this commits: the pass that ends the window waits, then finds this incident.
           FOR SHARE OF w;
          IF FOUND THEN
            UPDATE incidents SET suppressed = true, maintenance_window_id = maintenance.id WHERE id = new_incident_id;
            INSERT INTO timeline_entries (incident_id, kind, message, data, actor, event_id)
              VALUES (new_incident_id, 'suppressed',
                      'Suppressed: opened during a maintenance window (until ' || to_char(maintenance.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') || '): not posted or escalated',
                      jsonb_build_object('maintenanceWindowId', maintenance.id), 'pulsebridge', p_event)
              ON CONFLICT (incident_id, event_id, kind) DO NOTHING;
          END IF;
        END IF;
        IF late THEN
          INSERT INTO timeline_entries (incident_id, kind, message, data, actor, event_id)
            VALUES (new_incident_id, 'resolved', 'Resolved: Heroku had already reported recovery when this alert was applied',
                    jsonb_build_object('occurredAt', to_char(last_resolved AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')), 'heroku', p_event)
            ON CONFLICT (incident_id, event_id, kind) DO NOTHING;
        END IF;
        -- The deploy most likely behind it: the newest release or deploy notification of its app
        -- or services in the hour before that went out (not pending, failed or expired). A build
        -- is never one: a build that produced a release counts through that release. Two index
        -- walks (by app, by service), never a scan of the hour's pulses.
        SELECT c.id, c.kind, c.summary, c.version, c.actor_email, c.commit_sha, c.occurred_at INTO suspect
          FROM ((SELECT p.id, p.kind::text AS kind, p.summary, p.version, p.actor_email, p.commit_sha, p.occurred_at
                   FROM pulses p
                  WHERE p.app_name = ev.app_name
                    AND (p.app_name, p.occurred_at) >= (ev.app_name, event_time - interval '60 minutes')
                    AND (p.app_name, p.occurred_at) <= (ev.app_name, event_time)
                    AND p.kind <> 'build'
                    AND (p.status IS NULL OR p.status NOT IN ('pending', 'failed', 'expired'))
                  ORDER BY p.occurred_at DESC, p.id DESC LIMIT 1)
                UNION ALL
                SELECT s.id, s.kind, s.summary, s.version, s.actor_email, s.commit_sha, s.occurred_at
                  FROM unnest(service_ids) AS sid(id),
                       LATERAL (SELECT p.id, p.kind::text AS kind, p.summary, p.version, p.actor_email, p.commit_sha, p.occurred_at
                                  FROM pulse_services ps JOIN pulses p ON p.id = ps.pulse_id
                                 WHERE ps.service_id = sid.id AND ps.occurred_at BETWEEN event_time - interval '60 minutes' AND event_time
                                   AND p.kind <> 'build'
                                   AND (p.status IS NULL OR p.status NOT IN ('pending', 'failed', 'expired'))
                                 ORDER BY ps.occurred_at DESC, ps.pulse_id DESC LIMIT 1) s) c
         ORDER BY c.occurred_at DESC, c.id DESC
         LIMIT 1;
        IF FOUND THEN
          suspect_minutes := GREATEST(0, round(extract(epoch FROM event_time - suspect.occurred_at) / 60))::integer;
          INSERT INTO timeline_entries (incident_id, kind, message, data, event_id)
            VALUES (new_incident_id, 'suspect_deploy',
                    format('Triggered %s min after %s%s%s', suspect_minutes,
                           CASE WHEN COALESCE(suspect.version, '') <> '' THEN suspect.kind || ' ' || suspect.version ELSE suspect.summary END,
                           CASE WHEN COALESCE(suspect.actor_email, '') <> '' THEN ' by ' || suspect.actor_email ELSE '' END,
                           CASE WHEN COALESCE(suspect.commit_sha, '') <> '' THEN ' (' || left(suspect.commit_sha, 7) || ')' ELSE '' END),
                    jsonb_build_object('pulseId', suspect.id, 'minutes', suspect_minutes), p_event)
            ON CONFLICT (incident_id, event_id, kind) DO NOTHING;
        END IF;
        opened_count := opened_count + 1;
      END IF;
    ELSIF cmd ->> 'type' = 'incident.note' THEN
      -- A note: an informational change recorded as an incident already resolved when it
      -- arrives. It never groups into an open incident of its key, never resolves one, names no
      -- suspect deploy and is no page: Slack gets it as a change (no 'opened'), already resolved.
      INSERT INTO incidents (title, severity, dedup_key, app_name, entity, triggered_at, status, resolved_at, resolved_by, resolved_event_at)
        VALUES (cmd ->> 'title', (cmd ->> 'severity')::"Severity", cmd ->> 'dedupKey', ev.app_name, ev.entity, event_time,
                'resolved'::"IncidentStatus", now(), format('heroku (%s)', cmd ->> 'rule'), event_time)
        RETURNING id, updated_at INTO new_incident_id, incident_updated;
      touched_incidents := touched_incidents || jsonb_build_object('id', new_incident_id, 'updatedAt', (extract(epoch FROM incident_updated) * 1000)::bigint);
      INSERT INTO incident_services (incident_id, service_id) SELECT new_incident_id, unnest(service_ids) ON CONFLICT DO NOTHING;
      INSERT INTO timeline_entries (incident_id, kind, message, data, event_id)
        VALUES (new_incident_id, 'triggered', 'Noted: ' || (cmd ->> 'title'),
                jsonb_build_object('rule', cmd ->> 'rule', 'severity', cmd ->> 'severity', 'occurredAt', event_time_text, 'note', true), p_event)
        ON CONFLICT (incident_id, event_id, kind) DO NOTHING;
      INSERT INTO timeline_entries (incident_id, kind, message, data, actor, event_id)
        VALUES (new_incident_id, 'resolved', 'Resolved on arrival: an informational change, recorded without paging',
                jsonb_build_object('rule', cmd ->> 'rule', 'occurredAt', event_time_text), 'heroku', p_event)
        ON CONFLICT (incident_id, event_id, kind) DO NOTHING;
      noted_count := noted_count + 1;
    ELSE
      -- A resolve: lock the key and remember the latest resolve time.
      INSERT INTO incident_keys (dedup_key, last_resolved_at) VALUES (cmd ->> 'dedupKey', event_time)
        ON CONFLICT (dedup_key) DO UPDATE SET last_resolved_at = GREATEST(COALESCE(incident_keys.last_resolved_at, event_time), event_time), updated_at = now();
      SELECT i.id, i.severity, i.triggered_at INTO open_incident FROM incidents i WHERE i.dedup_key = cmd ->> 'dedupKey' AND i.status <> 'resolved';
      -- Only an incident opened before the resolving event happened: an old "up" must not resolve a
      -- newer crash. A quiet period (quietSince) resolves only an incident with no alert after it.
      IF FOUND AND open_incident.triggered_at <= event_time
         AND NOT (cmd ? 'quietSince' AND EXISTS (
           SELECT 1 FROM timeline_entries t
            WHERE t.incident_id = open_incident.id AND t.kind IN ('triggered', 'alert')
              AND (t.data ->> 'occurredAt')::timestamptz > (cmd ->> 'quietSince')::timestamptz)) THEN
        UPDATE incidents SET status = 'resolved', resolved_at = now(), resolved_by = format('heroku (%s)', cmd ->> 'rule'), resolved_event_at = event_time,
               updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 millisecond')
         WHERE id = open_incident.id RETURNING updated_at INTO incident_updated;
        touched_incidents := touched_incidents || jsonb_build_object('id', open_incident.id, 'updatedAt', (extract(epoch FROM incident_updated) * 1000)::bigint);
        INSERT INTO timeline_entries (incident_id, kind, message, data, actor, event_id)
          VALUES (open_incident.id, COALESCE(cmd ->> 'timelineKind', 'resolved'), 'Resolved: ' || COALESCE(cmd ->> 'message', 'Heroku reported recovery'),
                  jsonb_build_object('rule', cmd ->> 'rule', 'occurredAt', event_time_text), 'heroku', p_event)
          ON CONFLICT (incident_id, event_id, kind) DO NOTHING;
        resolved_count := resolved_count + 1;
      END IF;
    END IF;
  END LOOP;

  FOR cmd IN SELECT value FROM jsonb_array_elements(p_commands -> 'pulses') LOOP
    INSERT INTO pulses (kind, summary, app_name, status, version, commit_sha, actor_email, external_id, dedup_key, correlation_id, occurred_at, data, event_id)
      VALUES ((cmd ->> 'kind')::"PulseKind", cmd ->> 'summary', ev.app_name, cmd ->> 'status', cmd ->> 'version', cmd ->> 'commitSha', cmd ->> 'actorEmail',
              cmd ->> 'externalId', cmd ->> 'dedupKey', cmd ->> 'correlationId', event_time, COALESCE(cmd -> 'fields', '{}'::jsonb), p_event)
      ON CONFLICT (dedup_key) DO NOTHING
      RETURNING id INTO new_pulse_id;
    CONTINUE WHEN NOT FOUND;
    touched_pulses := touched_pulses || to_jsonb(new_pulse_id);
    INSERT INTO pulse_services (pulse_id, service_id, occurred_at) SELECT new_pulse_id, unnest(service_ids), event_time ON CONFLICT DO NOTHING;
    pulses_created := pulses_created + 1;
  END LOOP;

  UPDATE events SET status = 'processed', error = NULL, processed_at = now() WHERE id = p_event;
  RETURN jsonb_build_object('status', 'processed', 'incidentsOpened', opened_count, 'alertsGrouped', grouped_count, 'incidentsResolved', resolved_count,
                            'pulsesCreated', pulses_created, 'incidentsNoted', noted_count, 'incidents', touched_incidents, 'pulses', touched_pulses);
END;
$fn$;

CREATE OR REPLACE FUNCTION pulsebridge_apply_events(p_events jsonb, p_replay boolean)
RETURNS jsonb
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
  item jsonb;
  lock_id bigint;
  results jsonb := '[]'::jsonb;
BEGIN
  FOR lock_id IN
    SELECT DISTINCT hashtextextended(k.key, 0)
      FROM (SELECT 'event:' || (x ->> 'event') AS key FROM jsonb_array_elements(p_events) AS x
            UNION ALL
            SELECT 'incident-key:' || (c ->> 'dedupKey')
              FROM jsonb_array_elements(p_events) AS x, jsonb_array_elements(x -> 'commands' -> 'incidents') AS c
            UNION ALL
            SELECT 'pulse-key:' || (c ->> 'dedupKey')
              FROM jsonb_array_elements(p_events) AS x, jsonb_array_elements(x -> 'commands' -> 'pulses') AS c) AS k
     ORDER BY 1
  LOOP
    PERFORM pg_advisory_xact_lock(lock_id);
  END LOOP;
  PERFORM 1 FROM events e
   WHERE e.id = ANY (ARRAY(SELECT (x ->> 'event')::uuid FROM jsonb_array_elements(p_events) AS x))
   ORDER BY e.event_id, e.integration_id
   FOR UPDATE;

  FOR item IN SELECT value FROM jsonb_array_elements(p_events) LOOP
    results := results || jsonb_build_array(pulsebridge_apply_event((item ->> 'event')::uuid, item -> 'commands', item ->> 'reason', p_replay));
  END LOOP;
  RETURN results;
END;
$fn$;
