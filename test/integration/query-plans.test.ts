import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEvent, loadRuleSet, type RuleSet } from '@pulsebridge/core';
import { CONFIG_DIR, createIntegration, postWebhook, startTestStack, type TestStack } from '../support/stack.js';

// The apply function's statements run under generic plans, made once per connection and kept
// until the tables' statistics change. A connection that made them while the tables were empty
// (a fresh install, or a database that is never analyzed) must still walk indexes by key once
// the tables are full: here, a new incident's suspect-deploy lookup must walk its app's pulses,
// not every pulse of the hour.

let stack: TestStack;
let integration: { id: string; secret: string };
let rules: RuleSet;
/** One connection, so that the plans made by the first event are the ones the second uses. */
let pool: pg.Pool;
const notices: string[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  integration = await createIntegration(stack, ['plans-first', 'plans-second']);
  expect((await stack.call('POST', '/api/v1/services', { body: { name: 'plans', herokuAppNames: ['plans-first', 'plans-second'] } })).status).toBe(201);
  rules = await loadRuleSet(CONFIG_DIR);
  // No analyze during the test, as on a server without autovacuum: the plans stay as made.
  for (const table of ['pulses', 'pulse_services', 'incidents', 'incident_services', 'timeline_entries', 'events']) {
    await stack.sql(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  }
  pool = new pg.Pool({ connectionString: stack.config.databaseUrl, max: 1 });
  pool.on('connect', (client) => client.on('notice', (notice) => notices.push(notice.message ?? '')));
});
afterAll(async () => {
  await pool?.end();
  await stack?.stop();
});

async function crash(app: string): Promise<void> {
  const id = randomUUID();
  const body = { id, data: { app: { name: app }, name: 'web.1', state: 'crashed', management: 'formation', exit_status: 1 }, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } };
  expect((await postWebhook(stack, integration.id, JSON.stringify(body), { secret: integration.secret })).status).toBe(202);
  const [row] = await stack.sql<{ id: string }>('SELECT id FROM events WHERE event_id = $1', [id]);
  expect(await applyEvent(pool, rules, row!.id)).toMatchObject({ status: 'processed', incidentsOpened: 1 });
}

describe('plans made on empty tables', () => {
  it("a new incident's suspect-deploy lookup walks its app's pulses, not the hour's", async () => {
    // Planned while the table holds a hundred pulses of apps with long names, the app index is
    // a page larger than the time index, and the two tie in cost but for that page.
    await stack.sql(
      `INSERT INTO pulses (kind, summary, app_name, status, dedup_key, occurred_at)
       SELECT 'release', 'v' || n, repeat('long-app-name-', 15) || n, 'succeeded', 'plans:long:' || n, now() - interval '2 hours' FROM generate_series(1, 100) n`,
    );
    await crash('plans-first');

    // The hour's deploys of 5,000 other apps, and one of this app's.
    await stack.sql(
      `INSERT INTO pulses (kind, summary, app_name, status, dedup_key, occurred_at)
       SELECT 'release', 'v' || n, 'other-' || n, 'succeeded', 'plans:' || n, now() - (n || ' ms')::interval FROM generate_series(1, 5000) n`,
    );
    await stack.sql(
      `INSERT INTO pulses (kind, summary, app_name, status, version, dedup_key, occurred_at)
       VALUES ('release', 'Deploy', 'plans-second', 'succeeded', 'v7', 'plans:second', now() - interval '10 minutes')`,
    );

    await pool.query("LOAD 'auto_explain'");
    await pool.query("SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = 'notice'");
    notices.length = 0;
    await crash('plans-second');

    const lookup = notices.filter((notice) => notice.includes('c.commit_sha, c.occurred_at'));
    expect(lookup).toHaveLength(1);
    expect(lookup[0]).toContain('pulses_app_name_occurred_at_id_idx');
    expect(lookup[0]).not.toContain('pulses_occurred_at_id_idx');
    expect(lookup[0]).not.toMatch(/Seq Scan on pulses/);
    // And the incident names the deploy.
    const timeline = await stack.sql<{ message: string }>(
      "SELECT t.message FROM timeline_entries t JOIN incidents i ON i.id = t.incident_id WHERE i.app_name = 'plans-second' AND t.kind = 'suspect_deploy'",
    );
    expect(timeline.map((t) => t.message)).toEqual(['Triggered 10 min after release v7']);
  });
});
