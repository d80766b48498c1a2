-- Maintenance windows: while one covers an app or a service, incidents that open there are
-- suppressed (recorded, grouped, shown, but not posted or escalated); when it ends, those still
-- open are resolved or raised again, as the window says.
CREATE TABLE "maintenance_windows" (
    "id"          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    "app_names"   TEXT[] NOT NULL DEFAULT '{}',
    "service_ids" UUID[] NOT NULL DEFAULT '{}',
    "starts_at"   TIMESTAMPTZ(3) NOT NULL,
    "ends_at"     TIMESTAMPTZ(3) NOT NULL,
    "on_end"      TEXT NOT NULL CHECK ("on_end" IN ('resolve', 'reraise')),
    "created_by"  TEXT NOT NULL,
    "created_at"  TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    -- When its end was carried out (its suppressed incidents resolved or raised again).
    "ended_at"    TIMESTAMPTZ(3),
    CONSTRAINT "maintenance_windows_order" CHECK ("ends_at" > "starts_at"),
    CONSTRAINT "maintenance_windows_scope" CHECK (cardinality("app_names") + cardinality("service_ids") > 0)
);
CREATE INDEX "maintenance_windows_open" ON "maintenance_windows" ("ends_at") WHERE "ended_at" IS NULL;

ALTER TABLE "incidents" ADD COLUMN "suppressed" BOOLEAN NOT NULL DEFAULT false,
  ADD COLUMN "maintenance_window_id" UUID REFERENCES "maintenance_windows"("id") ON DELETE SET NULL;
-- The incidents a window suppressed, for the pass that ends it.
CREATE INDEX "incidents_suppressed_by" ON "incidents" ("maintenance_window_id") WHERE "suppressed";
