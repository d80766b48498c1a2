-- Managed log drains: an integration with a Heroku API token (or OAuth) creates a log drain on each
-- monitored app, as it does an app webhook, and removes it when the app leaves the list.
CREATE TABLE "managed_drains" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "integration_id" UUID NOT NULL,
    "app_name" TEXT NOT NULL,
    "drain_id" TEXT,
    "state" "ManagedWebhookState" NOT NULL DEFAULT 'pending',
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "managed_drains_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "managed_drains_integration_id_app_name_key" ON "managed_drains"("integration_id", "app_name");

ALTER TABLE "managed_drains" ADD CONSTRAINT "managed_drains_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "heroku_integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
