-- CreateEnum
CREATE TYPE "SlackMessageStatus" AS ENUM ('posting', 'posted', 'failed');

-- DropIndex
DROP INDEX "slack_messages_channel_ts_key";

-- DropIndex
DROP INDEX "slack_messages_incident_id_idx";

-- DropIndex
DROP INDEX "slack_messages_pulse_id_idx";

-- AlterTable
ALTER TABLE "services" ADD COLUMN     "post_pulses" BOOLEAN NOT NULL DEFAULT true;

-- AlterTable
ALTER TABLE "timeline_entries" ADD COLUMN     "seq" BIGSERIAL NOT NULL;

-- AlterTable
ALTER TABLE "slack_messages" DROP COLUMN "permalink",
DROP COLUMN "thread_ts",
ADD COLUMN     "client_token" UUID NOT NULL,
ADD COLUMN     "error" TEXT,
ADD COLUMN     "pending_reply_seq" BIGINT,
ADD COLUMN     "pending_reply_token" UUID,
ADD COLUMN     "rendered_at" TIMESTAMPTZ(3),
ADD COLUMN     "status" "SlackMessageStatus" NOT NULL DEFAULT 'posting',
ADD COLUMN     "target" TEXT NOT NULL,
ADD COLUMN     "thread_seq" BIGINT NOT NULL DEFAULT 0,
ALTER COLUMN "channel" DROP NOT NULL,
ALTER COLUMN "ts" DROP NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "timeline_entries_seq_key" ON "timeline_entries"("seq");

-- CreateIndex
CREATE INDEX "slack_messages_target_idx" ON "slack_messages"("target");

-- CreateIndex
CREATE UNIQUE INDEX "slack_messages_incident_id_target_key" ON "slack_messages"("incident_id", "target");

-- CreateIndex
CREATE UNIQUE INDEX "slack_messages_pulse_id_target_key" ON "slack_messages"("pulse_id", "target");

-- CreateIndex
CREATE INDEX "timeline_entries_event_id_idx" ON "timeline_entries"("event_id");

-- CreateIndex
CREATE INDEX "pulses_event_id_idx" ON "pulses"("event_id");
