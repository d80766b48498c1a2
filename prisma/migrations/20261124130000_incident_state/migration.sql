-- AlterTable
ALTER TABLE "pulses" ADD COLUMN     "correlation_id" TEXT,
ADD COLUMN     "event_id" UUID;

-- CreateTable
CREATE TABLE "incident_keys" (
    "dedup_key" TEXT NOT NULL,
    "last_resolved_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "incident_keys_pkey" PRIMARY KEY ("dedup_key")
);

-- CreateTable
CREATE TABLE "applied_rules" (
    "event_id" UUID NOT NULL,
    "rule" TEXT NOT NULL,
    "applied_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "applied_rules_pkey" PRIMARY KEY ("event_id","rule")
);

-- CreateIndex
CREATE INDEX "pulses_correlation_id_idx" ON "pulses"("correlation_id");

-- AddForeignKey
ALTER TABLE "applied_rules" ADD CONSTRAINT "applied_rules_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE CASCADE;
