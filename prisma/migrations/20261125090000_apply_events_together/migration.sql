-- A job's events are applied in one transaction: one round trip and one commit for the job
-- instead of one per event. Each event is still applied by pulsebridge_apply_event (see
-- 20261124220000_suspect_deploy_plan), unchanged.
--
-- A transaction applying several events would hold the first one's locks while the next take
-- theirs, so it takes every lock it needs before writing anything, in one order:
--   1. a transaction lock per event, incident dedup key and pulse dedup key it names, by lock
--      id: two applies with anything in common wait for each other whole, never half-way;
--   2. the events' rows, by event id, the order in which the ingest's batched insert locks the
--      rows of redelivered events (event-store.ts);
--   3. then each event as before (the key rows a person acknowledging or resolving an incident
--      also locks, one at a time).
-- So no two applies, and no apply and ingest, can deadlock, however their events interleave.
--
-- p_events: [{"event": uuid, "commands": {"incidents": [...], "pulses": [...]}, "reason": text|null}]
-- in the order to apply them. Returns pulsebridge_apply_event's result for each, in that order.
CREATE FUNCTION pulsebridge_apply_events(p_events jsonb, p_replay boolean)
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
   ORDER BY e.event_id
   FOR UPDATE;

  FOR item IN SELECT value FROM jsonb_array_elements(p_events) LOOP
    results := results || jsonb_build_array(pulsebridge_apply_event((item ->> 'event')::uuid, item -> 'commands', item ->> 'reason', p_replay));
  END LOOP;
  RETURN results;
END;
$fn$;
