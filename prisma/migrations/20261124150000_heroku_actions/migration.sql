-- AlterTable
ALTER TABLE "heroku_integrations" ADD COLUMN     "oauth_access_token_ciphertext" TEXT,
ADD COLUMN     "oauth_expires_at" TIMESTAMPTZ(3),
ADD COLUMN     "oauth_refresh_token_ciphertext" TEXT;

-- AlterTable
ALTER TABLE "action_runs" ADD COLUMN     "dyno_name" TEXT,
ADD COLUMN     "rendered_command" TEXT,
ADD COLUMN     "slack_uploaded_to" TEXT[] DEFAULT ARRAY[]::TEXT[];
