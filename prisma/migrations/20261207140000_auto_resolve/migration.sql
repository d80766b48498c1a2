-- Auto-resolve per rule: an incident whose trigger rule gives `auto_resolve_minutes` resolves
-- itself once that long has passed since its last alert was applied.
ALTER TABLE "incidents" ADD COLUMN "auto_resolve_minutes" INTEGER, ADD COLUMN "last_alert_at" TIMESTAMPTZ(3);
CREATE INDEX "incidents_auto_resolve_due" ON "incidents" ("last_alert_at") WHERE "status" <> 'resolved' AND "auto_resolve_minutes" IS NOT NULL;
