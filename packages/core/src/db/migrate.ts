import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

/** Same key `prisma migrate deploy` locks on, so our runner and Prisma's never interleave. */
const PRISMA_ADVISORY_LOCK = 72707369;

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
  /** Applied migrations whose file changed since: Prisma warns about these too. */
  modified: string[];
  /** Function files (re)created by this run; the others were unchanged. */
  functions: string[];
}

/**
 * Which function file was last applied, by checksum: a file whose checksum is unchanged and
 * whose functions all exist is not applied again.
 */
const CREATE_FUNCTIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_pulsebridge_functions" (
    "file"        TEXT PRIMARY KEY,
    "checksum"    VARCHAR(64) NOT NULL,
    "applied_at"  TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

export interface FunctionFile {
  file: string;
  sql: string;
  checksum: string;
  /** The functions the file creates, by name. */
  functions: string[];
}

/** Reads `<dir>/*.sql` in name order (the order they are applied in). */
export async function readFunctionFiles(functionsDir: string): Promise<FunctionFile[]> {
  const names = (await readdir(functionsDir)).filter((name) => name.endsWith('.sql')).sort();
  return Promise.all(
    names.map(async (file) => {
      const sql = await readFile(path.join(functionsDir, file), 'utf8');
      const functions = [...sql.matchAll(/^CREATE OR REPLACE FUNCTION\s+([a-z_][a-z0-9_]*)\s*\(/gim)].map((match) => match[1]!.toLowerCase());
      return { file, sql, checksum: createHash('sha256').update(sql).digest('hex'), functions };
    }),
  );
}

/**
 * (Re)creates the SQL functions from their files, in name order, in one transaction: a file
 * is applied when its checksum changed since it was last applied or one of its functions is
 * missing (Flyway's repeatable migrations). Migrations hold schema changes; these files hold
 * the current definition of every function.
 */
async function applyFunctionFiles(client: pg.Client, functionsDir: string): Promise<string[]> {
  const files = await readFunctionFiles(functionsDir);
  await client.query(CREATE_FUNCTIONS_TABLE);
  const recorded = new Map(
    (await client.query<{ file: string; checksum: string }>('SELECT file, checksum FROM "_pulsebridge_functions"')).rows.map((row) => [row.file, row.checksum]),
  );
  const existing = new Set(
    (await client.query<{ name: string }>("SELECT proname AS name FROM pg_proc WHERE pronamespace = current_schema()::regnamespace")).rows.map((row) => row.name),
  );
  const due = files.filter((file) => recorded.get(file.file) !== file.checksum || file.functions.some((name) => !existing.has(name)));
  if (due.length === 0) return [];
  await client.query('BEGIN');
  try {
    for (const file of due) {
      try {
        await client.query(file.sql);
      } catch (error) {
        throw new Error(`function file ${file.file} failed: ${(error as Error).message}`, { cause: error });
      }
      await client.query(
        'INSERT INTO "_pulsebridge_functions" (file, checksum, applied_at) VALUES ($1, $2, now()) ON CONFLICT (file) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()',
        [file.file, file.checksum],
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
  return due.map((file) => file.file);
}

/** Reads `<dir>/<timestamp>_<name>/migration.sql` in name order, as Prisma does. */
export async function readMigrations(migrationsDir: string): Promise<MigrationFile[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(migrationsDir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

/**
 * Applies pending migrations and records them in `_prisma_migrations` exactly as
 * `prisma migrate deploy` does (row first, then SQL, then `finished_at`), then (re)creates the
 * SQL functions whose file changed (`prisma/functions`, see applyFunctionFiles). Idempotent;
 * refuses to continue past a migration that failed earlier, like Prisma (P3009).
 */
export async function migrateDatabase(databaseUrl: string, migrationsDir: string, functionsDir = path.join(migrationsDir, '..', 'functions')): Promise<MigrationResult> {
  const migrations = await readMigrations(migrationsDir);
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at',
    );
    const failed = rows.find((row) => row.finished_at === null && row.rolled_back_at === null);
    if (failed) {
      throw new Error(
        `migration ${failed.migration_name} failed earlier and was not resolved; fix the database, then mark it rolled back (prisma migrate resolve --rolled-back ${failed.migration_name})`,
      );
    }
    const done = new Map(rows.filter((row) => row.finished_at !== null).map((row) => [row.migration_name, row.checksum]));
    const result: MigrationResult = { applied: [], alreadyApplied: [], modified: [], functions: [] };
    for (const migration of migrations) {
      const appliedChecksum = done.get(migration.name);
      if (appliedChecksum !== undefined) {
        result.alreadyApplied.push(migration.name);
        if (appliedChecksum !== migration.checksum) result.modified.push(migration.name);
        continue;
      }
      const id = randomUUID();
      await client.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())', [
        id,
        migration.checksum,
        migration.name,
      ]);
      try {
        await client.query('BEGIN');
        await client.query(migration.sql);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        await client.query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, String(error)]);
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
      }
      await client.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
      result.applied.push(migration.name);
    }
    result.functions = await applyFunctionFiles(client, functionsDir);
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]).catch(() => undefined);
    await client.end();
  }
}

/** `prisma/migrations` of this repository, wherever the compiled code runs from. */
export function defaultMigrationsDir(): string {
  return path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../../prisma/migrations');
}
