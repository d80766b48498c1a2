-- Escalation: a policy per service (levels of Slack users or user groups, each with how long to
-- wait for an acknowledgement before the next), and per incident where its escalation stands.
-- PostgreSQL is the source of truth for what is due: workers poll it, so a restart or a Redis
-- loss loses nothing.
CREATE TABLE "escalation_policies" (
    "service_id"           UUID PRIMARY KEY REFERENCES "services"("id") ON DELETE CASCADE,
    "min_severity"         "Severity" NOT NULL,
    -- [{targets: ["U0123ABCD", "S0123ABCD"], delayMinutes: 10}, ...]
    "levels"               JSONB NOT NULL,
    "repeat_every_minutes" INTEGER,
    -- Also tell each mentioned user in a direct message.
    "direct_messages"      BOOLEAN NOT NULL DEFAULT false,
    "updated_at"           TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);

CREATE TABLE "incident_escalations" (
    "incident_id"  UUID PRIMARY KEY REFERENCES "incidents"("id") ON DELETE CASCADE,
    "service_id"   UUID REFERENCES "services"("id") ON DELETE SET NULL,
    -- The level to notify next (0 is level 1), and when.
    "next_level"   INTEGER NOT NULL DEFAULT 0,
    "next_at"      TIMESTAMPTZ(3) NOT NULL,
    "notified"     INTEGER NOT NULL DEFAULT 0,
    "stopped_at"   TIMESTAMPTZ(3),
    "stop_reason"  TEXT,
    "created_at"   TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE INDEX "incident_escalations_due" ON "incident_escalations" ("next_at") WHERE "stopped_at" IS NULL;
