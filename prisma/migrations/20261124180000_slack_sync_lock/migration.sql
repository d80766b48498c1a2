-- A Slack sync of an incident holds the incident's advisory lock for its whole run. Taking
-- the lock and reading the incident are one round trip: the function is VOLATILE, so its read
-- takes a fresh snapshot after the lock is granted and sees everything the previous holder
-- committed. The previous holder releases the lock in its last write (deliver.ts), keeping a
-- transaction-level hold until that write commits, so the wait covers its commit too.
CREATE FUNCTION pulsebridge_slack_lock_incident(p_incident uuid, p_thread_kinds text[])
RETURNS TABLE (
  id uuid, number integer, title text, status text, severity text, app_name text, alert_count integer, dedup_key text,
  triggered_at timestamptz, updated_at timestamptz, acknowledged_by text, resolved_by text,
  services json, suspect json, entries json, messages json
)
LANGUAGE plpgsql
VOLATILE
AS $fn$
BEGIN
  PERFORM pg_advisory_lock(hashtextextended('slack-incident:' || p_incident, 0));
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
         (SELECT COALESCE(json_agg(json_build_object('id', m.id, 'target', m.target, 'channel', m.channel, 'ts', m.ts, 'status', m.status,
                                                     'client_token', m.client_token, 'rendered_at', m.rendered_at, 'thread_seq', m.thread_seq::text,
                                                     'pending_reply_token', m.pending_reply_token, 'pending_reply_seq', m.pending_reply_seq::text)), '[]')
            FROM slack_messages m WHERE m.incident_id = i.id)
    FROM incidents i WHERE i.id = p_incident;
END;
$fn$;
