import { randomBytes } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultMigrationsDir, migrateDatabase, readFunctionFiles } from '@pulsebridge/core';
import { createEmptyDatabase } from '../support/services.js';

/**
 * SQL functions live in prisma/functions, one file per family, applied by `npm run migrate`
 * after the migrations; migrations hold schema changes only.
 */
const MIGRATIONS_DIR = defaultMigrationsDir();
const FUNCTIONS_DIR = path.join(MIGRATIONS_DIR, '..', 'functions');
/** The last migration that defined a function; every later one holds schema changes only. */
const LAST_MIGRATION_WITH_FUNCTIONS = '20261206170000_suspect_deploys_and_notes';

let client: pg.Client;
let url: string;
const scratch: string[] = [];

beforeAll(async () => {
  url = await createEmptyDatabase(`${inject('runId')}_functions_${randomBytes(3).toString('hex')}`);
  const result = await migrateDatabase(url, MIGRATIONS_DIR);
  expect(result.functions).toEqual(readdirSync(FUNCTIONS_DIR).filter((file) => file.endsWith('.sql')).sort());
  client = new pg.Client({ connectionString: url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** Every pulsebridge_* function of the database, by signature, as PostgreSQL prints it. */
async function definitions(): Promise<Record<string, string>> {
  const { rows } = await client.query<{ signature: string; definition: string }>(
    `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature, pg_get_functiondef(p.oid) AS definition
       FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'pulsebridge\\_%' ORDER BY 1`,
  );
  return Object.fromEntries(rows.map((row) => [row.signature, row.definition]));
}

/** A copy of the function files to change. */
function functionsCopy(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pb-functions-'));
  scratch.push(dir);
  cpSync(FUNCTIONS_DIR, dir, { recursive: true });
  return dir;
}

describe('SQL functions as source files', () => {
  it('the database holds exactly the functions the files define, as the files define them', async () => {
    const files = await readFunctionFiles(FUNCTIONS_DIR);
    const before = await definitions();
    // No function that only a migration defines, none defined twice.
    expect(Object.keys(before).map((signature) => signature.split('(')[0]).sort()).toEqual(files.flatMap((file) => file.functions).sort());
    // Running the files again changes nothing.
    await client.query('BEGIN');
    try {
      for (const file of files) await client.query(file.sql);
      expect(await definitions()).toEqual(before);
    } finally {
      await client.query('ROLLBACK');
    }
  });

  it('a second run applies nothing; a changed file is applied again, alone; a missing function is re-created', async () => {
    expect(await migrateDatabase(url, MIGRATIONS_DIR)).toMatchObject({ applied: [], functions: [] });
    const dir = functionsCopy();
    appendFileSync(path.join(dir, '20_slack_delivery.sql'), '\n-- changed\n');
    expect((await migrateDatabase(url, MIGRATIONS_DIR, dir)).functions).toEqual(['20_slack_delivery.sql']);
    expect((await migrateDatabase(url, MIGRATIONS_DIR, dir)).functions).toEqual([]);
    await client.query('DROP FUNCTION pulsebridge_apply_events(jsonb, boolean)');
    expect((await migrateDatabase(url, MIGRATIONS_DIR, dir)).functions).toEqual(['10_apply_events.sql']);
    expect(Object.keys(await definitions())).toContain('pulsebridge_apply_events(p_events jsonb, p_replay boolean)');
    expect((await migrateDatabase(url, MIGRATIONS_DIR)).functions).toEqual(['20_slack_delivery.sql']);
  });

  it('files are applied in one transaction: a broken file leaves every function as it was, and the error names it', async () => {
    const before = await definitions();
    const dir = functionsCopy();
    const file = path.join(dir, '10_apply_events.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace("RETURN jsonb_build_object('status', 'missing');", "RETURN jsonb_build_object('status', 'gone');"));
    writeFileSync(path.join(dir, '30_broken.sql'), 'CREATE OR REPLACE FUNCTION pulsebridge_broken() RETURNS integer LANGUAGE sql AS $$ SELECT no_such_column FROM events $$;\n');
    await expect(migrateDatabase(url, MIGRATIONS_DIR, dir)).rejects.toThrow(/^function file 30_broken\.sql failed: column "no_such_column" does not exist/);
    expect(await definitions()).toEqual(before);
    expect((await client.query('SELECT file FROM "_pulsebridge_functions" ORDER BY file')).rows.map((row) => row.file)).toEqual(['10_apply_events.sql', '20_slack_delivery.sql', '30_workflows.sql']);
    expect((await migrateDatabase(url, MIGRATIONS_DIR)).functions).toEqual([]);
  });

  it(`migrations after ${LAST_MIGRATION_WITH_FUNCTIONS} hold schema changes only`, () => {
    const later = readdirSync(MIGRATIONS_DIR).filter((name) => /^\d{14}_/.test(name) && name > LAST_MIGRATION_WITH_FUNCTIONS);
    for (const name of later) {
      const sql = readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8');
      expect(sql, `${name} defines a function: put it in prisma/functions instead`).not.toMatch(/\b(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?FUNCTION\b/i);
    }
  });
});
