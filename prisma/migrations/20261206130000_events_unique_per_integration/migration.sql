-- Event ids are unique per integration: the same Heroku event delivered through two
-- integrations (one that does not monitor its app, one that does) is stored and processed
-- once for each. Legacy add-on notifications have no integration; their ids (a digest of the
-- resource id and the body) stay unique among themselves. Webhook events whose integration
-- was deleted (integration_id set to NULL) are no longer constrained: they are archive only.
DROP INDEX "events_event_id_key";
CREATE UNIQUE INDEX "events_event_id_integration_id_key" ON "events"("event_id", "integration_id");
CREATE UNIQUE INDEX "events_addon_event_id_key" ON "events"("event_id") WHERE "source" = 'heroku_addon';

-- pulsebridge_apply_events (20261125090000_apply_events_together), unchanged but for its row
-- lock order: event id, then integration, the order in which the ingest's batched insert
-- (event-store.ts) writes rows, now that two rows may share an event id.
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
