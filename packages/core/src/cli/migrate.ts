import { loadMigrateConfig } from '../config.js';
import { exitOnConfigError } from '../boot.js';
import { checkPostgres } from '../connectivity.js';
import { defaultMigrationsDir, migrateDatabase } from '../db/migrate.js';

/** `npm run migrate`: applies pending migrations to DATABASE_URL, creating the database if needed, then the SQL functions whose file changed. */
async function main(): Promise<void> {
  const databaseUrl = exitOnConfigError(() => loadMigrateConfig()).databaseUrl;
  const problem = await checkPostgres(databaseUrl, { createDatabase: true });
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
  const result = await migrateDatabase(databaseUrl, defaultMigrationsDir());
  for (const name of result.modified) process.stderr.write(`warning: migration ${name} was modified after it was applied\n`);
  process.stdout.write(
    result.applied.length > 0
      ? `applied ${result.applied.length} migration(s): ${result.applied.join(', ')}\n`
      : `database is up to date (${result.alreadyApplied.length} migration(s) applied)\n`,
  );
  if (result.functions.length > 0) process.stdout.write(`re-created the SQL functions of ${result.functions.join(', ')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`migrate: ${(error as Error).message}\n`);
  process.exit(1);
});
