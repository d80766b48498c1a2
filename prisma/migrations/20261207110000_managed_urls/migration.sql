-- Managed webhooks and drains keep the URL they send to, so a sync can point them at a new one
-- (PUBLIC_URL changed, drain URLs rotated) instead of taking them for up to date.
ALTER TABLE "managed_webhooks" ADD COLUMN "url" TEXT;
ALTER TABLE "managed_drains" ADD COLUMN "url" TEXT;
