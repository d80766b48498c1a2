-- CreateEnum
CREATE TYPE "EventSource" AS ENUM ('heroku_webhook', 'heroku_addon');

-- CreateEnum
CREATE TYPE "EventStatus" AS ENUM ('received', 'processed', 'skipped', 'failed');

-- CreateEnum
CREATE TYPE "IntegrationStatus" AS ENUM ('active', 'disconnected');

-- CreateEnum
CREATE TYPE "ManagedWebhookState" AS ENUM ('pending', 'active', 'failed', 'deleting');

-- CreateEnum
CREATE TYPE "IncidentStatus" AS ENUM ('triggered', 'acknowledged', 'resolved');

-- CreateEnum
CREATE TYPE "Severity" AS ENUM ('critical', 'high', 'medium', 'low', 'info');

-- CreateEnum
CREATE TYPE "PulseKind" AS ENUM ('build', 'release', 'deploy');

-- CreateEnum
CREATE TYPE "ActionRunStatus" AS ENUM ('queued', 'running', 'succeeded', 'failed');

-- CreateEnum
CREATE TYPE "TokenRole" AS ENUM ('admin', 'responder');

-- CreateTable
CREATE TABLE "heroku_integrations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "monitored_apps" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "secret_ciphertext" TEXT NOT NULL,
    "api_token_ciphertext" TEXT,
    "status" "IntegrationStatus" NOT NULL DEFAULT 'active',
    "status_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "heroku_integrations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "managed_webhooks" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "integration_id" UUID NOT NULL,
    "app_name" TEXT NOT NULL,
    "webhook_id" TEXT,
    "state" "ManagedWebhookState" NOT NULL DEFAULT 'pending',
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "managed_webhooks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "event_id" TEXT NOT NULL,
    "delivery_id" TEXT,
    "source" "EventSource" NOT NULL,
    "integration_id" UUID,
    "addon_resource_id" TEXT,
    "resource" TEXT NOT NULL,
    "entity" TEXT NOT NULL,
    "action" TEXT,
    "app_name" TEXT,
    "occurred_at" TIMESTAMPTZ(3),
    "payload" JSONB NOT NULL,
    "status" "EventStatus" NOT NULL DEFAULT 'received',
    "error" TEXT,
    "delivery_count" INTEGER NOT NULL DEFAULT 1,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_delivered_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "services" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "heroku_app_names" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "slack_channels" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "services_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "incidents" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "number" SERIAL NOT NULL,
    "title" TEXT NOT NULL,
    "status" "IncidentStatus" NOT NULL DEFAULT 'triggered',
    "severity" "Severity" NOT NULL,
    "dedup_key" TEXT NOT NULL,
    "app_name" TEXT,
    "entity" TEXT NOT NULL,
    "alert_count" INTEGER NOT NULL DEFAULT 1,
    "triggered_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "acknowledged_at" TIMESTAMPTZ(3),
    "acknowledged_by" TEXT,
    "resolved_at" TIMESTAMPTZ(3),
    "resolved_by" TEXT,

    CONSTRAINT "incidents_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "incident_services" (
    "incident_id" UUID NOT NULL,
    "service_id" UUID NOT NULL,

    CONSTRAINT "incident_services_pkey" PRIMARY KEY ("incident_id","service_id")
);

-- CreateTable
CREATE TABLE "timeline_entries" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "incident_id" UUID NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "kind" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    "actor" TEXT,
    "event_id" UUID,

    CONSTRAINT "timeline_entries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pulses" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "kind" "PulseKind" NOT NULL,
    "summary" TEXT NOT NULL,
    "app_name" TEXT,
    "status" TEXT,
    "version" TEXT,
    "commit_sha" TEXT,
    "actor_email" TEXT,
    "external_id" TEXT,
    "dedup_key" TEXT NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pulses_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pulse_services" (
    "pulse_id" UUID NOT NULL,
    "service_id" UUID NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "pulse_services_pkey" PRIMARY KEY ("pulse_id","service_id")
);

-- CreateTable
CREATE TABLE "slack_messages" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "incident_id" UUID,
    "pulse_id" UUID,
    "channel" TEXT NOT NULL,
    "ts" TEXT NOT NULL,
    "thread_ts" TEXT,
    "permalink" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "slack_messages_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "action_runs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "incident_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "status" "ActionRunStatus" NOT NULL DEFAULT 'queued',
    "command" TEXT NOT NULL,
    "app_name" TEXT NOT NULL,
    "dyno_size" TEXT NOT NULL,
    "time_to_live" INTEGER NOT NULL,
    "dyno_id" TEXT,
    "exit_status" INTEGER,
    "output" TEXT,
    "output_truncated" BOOLEAN NOT NULL DEFAULT false,
    "error" TEXT,
    "post_to_timeline" BOOLEAN NOT NULL DEFAULT false,
    "slack_channels" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "requested_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "action_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "role" "TokenRole" NOT NULL,
    "token_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "managed_webhooks_integration_id_app_name_key" ON "managed_webhooks"("integration_id", "app_name");

-- CreateIndex
CREATE UNIQUE INDEX "events_event_id_key" ON "events"("event_id");

-- CreateIndex
CREATE INDEX "events_received_at_id_idx" ON "events"("received_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "events_status_received_at_id_idx" ON "events"("status", "received_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "events_resource_received_at_id_idx" ON "events"("resource", "received_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "events_integration_id_received_at_idx" ON "events"("integration_id", "received_at" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "services_name_key" ON "services"("name");

-- CreateIndex
CREATE INDEX "services_heroku_app_names_idx" ON "services" USING GIN ("heroku_app_names");

-- CreateIndex
CREATE UNIQUE INDEX "incidents_number_key" ON "incidents"("number");

-- CreateIndex
CREATE INDEX "incidents_dedup_key_created_at_idx" ON "incidents"("dedup_key", "created_at" DESC);

-- CreateIndex
CREATE INDEX "incidents_status_created_at_id_idx" ON "incidents"("status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "incidents_app_name_created_at_idx" ON "incidents"("app_name", "created_at" DESC);

-- CreateIndex
CREATE INDEX "incidents_created_at_id_idx" ON "incidents"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "incident_services_service_id_incident_id_idx" ON "incident_services"("service_id", "incident_id");

-- CreateIndex
CREATE INDEX "timeline_entries_incident_id_at_idx" ON "timeline_entries"("incident_id", "at");

-- CreateIndex
CREATE UNIQUE INDEX "timeline_entries_incident_id_event_id_kind_key" ON "timeline_entries"("incident_id", "event_id", "kind");

-- CreateIndex
CREATE UNIQUE INDEX "pulses_dedup_key_key" ON "pulses"("dedup_key");

-- CreateIndex
CREATE INDEX "pulses_app_name_occurred_at_idx" ON "pulses"("app_name", "occurred_at" DESC);

-- CreateIndex
CREATE INDEX "pulses_occurred_at_id_idx" ON "pulses"("occurred_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "pulses_kind_occurred_at_idx" ON "pulses"("kind", "occurred_at" DESC);

-- CreateIndex
CREATE INDEX "pulse_services_service_id_occurred_at_idx" ON "pulse_services"("service_id", "occurred_at" DESC);

-- CreateIndex
CREATE INDEX "slack_messages_incident_id_idx" ON "slack_messages"("incident_id");

-- CreateIndex
CREATE INDEX "slack_messages_pulse_id_idx" ON "slack_messages"("pulse_id");

-- CreateIndex
CREATE UNIQUE INDEX "slack_messages_channel_ts_key" ON "slack_messages"("channel", "ts");

-- CreateIndex
CREATE INDEX "action_runs_incident_id_created_at_idx" ON "action_runs"("incident_id", "created_at" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");

-- AddForeignKey
ALTER TABLE "managed_webhooks" ADD CONSTRAINT "managed_webhooks_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "heroku_integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "events" ADD CONSTRAINT "events_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "heroku_integrations"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "incident_services" ADD CONSTRAINT "incident_services_incident_id_fkey" FOREIGN KEY ("incident_id") REFERENCES "incidents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "incident_services" ADD CONSTRAINT "incident_services_service_id_fkey" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "timeline_entries" ADD CONSTRAINT "timeline_entries_incident_id_fkey" FOREIGN KEY ("incident_id") REFERENCES "incidents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pulse_services" ADD CONSTRAINT "pulse_services_pulse_id_fkey" FOREIGN KEY ("pulse_id") REFERENCES "pulses"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pulse_services" ADD CONSTRAINT "pulse_services_service_id_fkey" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "slack_messages" ADD CONSTRAINT "slack_messages_incident_id_fkey" FOREIGN KEY ("incident_id") REFERENCES "incidents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "slack_messages" ADD CONSTRAINT "slack_messages_pulse_id_fkey" FOREIGN KEY ("pulse_id") REFERENCES "pulses"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "action_runs" ADD CONSTRAINT "action_runs_incident_id_fkey" FOREIGN KEY ("incident_id") REFERENCES "incidents"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Not expressible in schema.prisma: at most one open (unresolved) incident per dedup key.
CREATE UNIQUE INDEX "incidents_open_dedup_key_key" ON "incidents"("dedup_key") WHERE "status" <> 'resolved';
