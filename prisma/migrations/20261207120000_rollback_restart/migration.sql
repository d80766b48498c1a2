-- Action runs of three kinds: a command on a one-off dyno (run), a rollback to an earlier
-- release (rollback) and a dyno restart (restart). A rollback records the release it goes back
-- to, the release that was current when it was asked for (it is refused if the app moved on),
-- and the release it made; a restart its process type (or dyno, in dyno_name).
UPDATE "action_runs" SET "kind" = 'run' WHERE "kind" = 'heroku-run';
ALTER TABLE "action_runs"
  ALTER COLUMN "command" DROP NOT NULL,
  ALTER COLUMN "dyno_size" DROP NOT NULL,
  ADD COLUMN "target_release_id" UUID,
  ADD COLUMN "target_version" INTEGER,
  ADD COLUMN "expected_version" INTEGER,
  ADD COLUMN "result_release_id" UUID,
  ADD COLUMN "result_version" INTEGER,
  ADD COLUMN "process_type" TEXT,
  ADD CONSTRAINT "action_runs_kind_check" CHECK ("kind" IN ('run', 'rollback', 'restart')),
  ADD CONSTRAINT "action_runs_run_has_command" CHECK ("kind" <> 'run' OR ("command" IS NOT NULL AND "dyno_size" IS NOT NULL));
