-- Log drains: signals crossing their thresholds are archived events of their own source, each
-- integration gets a salt for its drain URLs' tokens, and per-minute signal counts are kept for
-- the charts of drain incidents.
ALTER TYPE "EventSource" ADD VALUE 'heroku_drain';

ALTER TABLE "heroku_integrations" ADD COLUMN "drain_salt" TEXT NOT NULL DEFAULT gen_random_uuid()::text;

CREATE TABLE "log_signal_minutes" (
    "integration_id" UUID NOT NULL,
    "app_name" TEXT NOT NULL,
    "process_type" TEXT NOT NULL,
    "signal" TEXT NOT NULL,
    "minute" TIMESTAMPTZ(3) NOT NULL,
    "count" INTEGER NOT NULL,

    CONSTRAINT "log_signal_minutes_pkey" PRIMARY KEY ("integration_id","app_name","signal","process_type","minute")
);

CREATE INDEX "log_signal_minutes_minute_idx" ON "log_signal_minutes"("minute");
