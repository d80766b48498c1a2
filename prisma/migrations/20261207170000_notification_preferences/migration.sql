-- Notification preferences per service: incidents below `post_min_severity` stay in the UI (no
-- Slack message); which page (escalate) is the escalation policy's `min_severity`.
ALTER TABLE "services" ADD COLUMN "post_min_severity" "Severity" NOT NULL DEFAULT 'info';
