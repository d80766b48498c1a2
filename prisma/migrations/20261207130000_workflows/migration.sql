-- Workflows: incident and pulse changes waiting for the workflow dispatcher (an outbox filled by
-- triggers, see prisma/functions/30_workflows.sql, while workflows are enabled), the runs it
-- made (one per workflow and change, whatever the number of workers, retries or replays), and
-- the action runs a workflow's Heroku actions made.
CREATE TABLE "workflow_settings" (
    "id"         INTEGER PRIMARY KEY CHECK ("id" = 1),
    "enabled"    BOOLEAN NOT NULL DEFAULT false,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
INSERT INTO "workflow_settings" ("id", "enabled") VALUES (1, false);

CREATE TABLE "workflow_outbox" (
    "id"          BIGSERIAL PRIMARY KEY,
    "trigger"     TEXT NOT NULL,
    -- What makes a change one change: the timeline entry's event and incident key (a replayed
    -- event makes the same key), or the entry or pulse itself.
    "trigger_key" TEXT NOT NULL,
    "incident_id" UUID,
    "pulse_id"    UUID,
    "created_at"  TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

CREATE TABLE "workflow_runs" (
    "id"             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    "workflow"       TEXT NOT NULL,
    "trigger"        TEXT NOT NULL,
    "trigger_key"    TEXT NOT NULL,
    "incident_id"    UUID REFERENCES "incidents"("id") ON DELETE CASCADE,
    "pulse_id"       UUID REFERENCES "pulses"("id") ON DELETE CASCADE,
    "app_name"       TEXT,
    "status"         TEXT NOT NULL DEFAULT 'queued' CHECK ("status" IN ('queued', 'running', 'succeeded', 'failed', 'skipped')),
    "skipped_reason" TEXT,
    -- Per action, in order: {action, status, startedAt, finishedAt, result?, error?, runId?}.
    "actions"        JSONB NOT NULL DEFAULT '[]',
    "error"          TEXT,
    -- The job carrying the run out holds it (a lease it renews); no other job acts on it meanwhile.
    "claim_token"    TEXT,
    "claimed_until"  TIMESTAMPTZ(3),
    "created_at"     TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    "started_at"     TIMESTAMPTZ(3),
    "finished_at"    TIMESTAMPTZ(3),
    CONSTRAINT "workflow_runs_once" UNIQUE ("workflow", "trigger_key")
);
CREATE INDEX "workflow_runs_incident" ON "workflow_runs" ("incident_id", "created_at" DESC);
CREATE INDEX "workflow_runs_cooldown" ON "workflow_runs" ("workflow", "app_name", "created_at" DESC);
CREATE INDEX "workflow_runs_created" ON "workflow_runs" ("created_at" DESC, "id" DESC);
CREATE INDEX "workflow_runs_pending" ON "workflow_runs" ("created_at") WHERE "status" IN ('queued', 'running');

ALTER TABLE "action_runs" ADD COLUMN "workflow_run_id" UUID REFERENCES "workflow_runs"("id") ON DELETE SET NULL;
