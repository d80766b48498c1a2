-- Workflow outbox: incident and pulse changes a workflow may run on, written by triggers in the
-- transaction that makes the change, so a change that commits is never missed and one that
-- rolls back is never seen. Nothing is written while no workflow is enabled
-- (`workflow_settings.enabled`, set by the workers from config/workflows.yaml).
--
-- Read by packages/core/src/workflows/workflow-dispatcher.ts, which takes rows in order with
-- FOR UPDATE SKIP LOCKED (any number of workers), records the workflow runs they start and
-- deletes them in one transaction.
--
-- pulsebridge_workflow_outbox_entry(): AFTER INSERT on timeline_entries, for the kinds that are
--   incident transitions: triggered -> incident.triggered, alert -> incident.alert_grouped,
--   acknowledged -> incident.acknowledged, resolved and auto_resolved -> incident.resolved.
--   The key of a change made by an event is the event and the incident's dedup key, so the
--   same event replayed (even one that opens a new incident) is the same change.
-- pulsebridge_workflow_outbox_pulse(): AFTER INSERT on pulses -> pulse.created.

CREATE OR REPLACE FUNCTION pulsebridge_workflow_outbox_entry() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
  trigger_name text;
BEGIN
  IF NOT COALESCE((SELECT s.enabled FROM workflow_settings s WHERE s.id = 1), false) THEN
    RETURN NULL;
  END IF;
  trigger_name := CASE NEW.kind
    WHEN 'triggered' THEN 'incident.triggered'
    WHEN 'alert' THEN 'incident.alert_grouped'
    WHEN 'acknowledged' THEN 'incident.acknowledged'
    ELSE 'incident.resolved' END;
  INSERT INTO workflow_outbox (trigger, trigger_key, incident_id)
    VALUES (trigger_name,
            trigger_name || ':' || COALESCE(NEW.event_id::text || ':' || (SELECT i.dedup_key FROM incidents i WHERE i.id = NEW.incident_id), NEW.id::text),
            NEW.incident_id);
  RETURN NULL;
END;
$fn$;

CREATE OR REPLACE FUNCTION pulsebridge_workflow_outbox_pulse() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
  IF NOT COALESCE((SELECT s.enabled FROM workflow_settings s WHERE s.id = 1), false) THEN
    RETURN NULL;
  END IF;
  INSERT INTO workflow_outbox (trigger, trigger_key, pulse_id) VALUES ('pulse.created', 'pulse.created:' || NEW.dedup_key, NEW.id);
  RETURN NULL;
END;
$fn$;

DROP TRIGGER IF EXISTS pulsebridge_workflow_outbox_entry ON timeline_entries;
CREATE TRIGGER pulsebridge_workflow_outbox_entry AFTER INSERT ON timeline_entries
  FOR EACH ROW WHEN (NEW.kind IN ('triggered', 'alert', 'acknowledged', 'resolved', 'auto_resolved'))
  EXECUTE FUNCTION pulsebridge_workflow_outbox_entry();

DROP TRIGGER IF EXISTS pulsebridge_workflow_outbox_pulse ON pulses;
CREATE TRIGGER pulsebridge_workflow_outbox_pulse AFTER INSERT ON pulses
  FOR EACH ROW EXECUTE FUNCTION pulsebridge_workflow_outbox_pulse();
