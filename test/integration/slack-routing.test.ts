import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/stack.js';

// Routing decides which channels hear about an incident or a pulse. It runs in PostgreSQL, in the
// read that starts every Slack delivery (`pulsebridge_slack_lock_incident`,
// `pulsebridge_slack_claim_pulse`), which also creates a message row per routed channel.
let db: pg.Client;

beforeAll(async () => {
  db = new pg.Client({ connectionString: await createTestDatabase() });
  await db.connect();
});

afterAll(async () => {
  await db.end();
});

type Svc = [name: string, channels: string[], postPulses?: boolean];

interface Delivery {
  targets: string[];
  messages: { target: string; status: string; created: boolean }[];
}

/** Links services to a new incident or pulse and reads it as a Slack delivery does; everything is rolled back. */
async function route(services: Svc[], kind: 'incident' | 'pulse', defaultChannel: string | null): Promise<Delivery> {
  await db.query('BEGIN');
  try {
    const ids: string[] = [];
    for (const [name, channels, postPulses = true] of services) {
      const { rows } = await db.query<{ id: string }>('INSERT INTO services (name, slack_channels, post_pulses) VALUES ($1, $2, $3) RETURNING id', [name, channels, postPulses]);
      ids.push(rows[0]!.id);
    }
    if (kind === 'incident') {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO incidents (title, severity, dedup_key, entity, triggered_at) VALUES ('web crashed', 'critical', 'k', 'dyno', now()) RETURNING id`,
      );
      await db.query('INSERT INTO incident_services (incident_id, service_id) SELECT $1, unnest($2::uuid[])', [rows[0]!.id, ids]);
      const read = await db.query<Delivery>('SELECT targets, messages FROM pulsebridge_slack_lock_incident($1, $2, $3)', [rows[0]!.id, ['alert'], defaultChannel]);
      return read.rows[0]!;
    }
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO pulses (kind, summary, dedup_key, occurred_at) VALUES ('build', '[Heroku][Build] web succeeded', 'k', now()) RETURNING id`,
    );
    await db.query('INSERT INTO pulse_services (pulse_id, service_id, occurred_at) SELECT $1, unnest($2::uuid[]), now()', [rows[0]!.id, ids]);
    const read = await db.query<Delivery>('SELECT targets, messages FROM pulsebridge_slack_claim_pulse($1, $2)', [rows[0]!.id, defaultChannel]);
    return read.rows[0]!;
  } finally {
    await db.query('ROLLBACK');
    await db.query('SELECT pg_advisory_unlock_all()');
  }
}

describe('routing', () => {
  it.each<[string, Svc[], 'incident' | 'pulse', string | null, string[]]>([
    ['every linked service, by name, each channel once (#ops and ops are one)', [['b', ['ops', '#alerts']], ['a', ['#ops', 'C0123']]], 'incident', '#default', ['#ops', 'C0123', '#alerts']],
    ['a channel named twice by one service goes once', [['a', ['#ops', '#OPS', 'C1']]], 'incident', null, ['#ops', 'C1']],
    ['nothing linked: the default channel', [], 'incident', '#default', ['#default']],
    ['linked services without channels: the default channel', [['a', []]], 'incident', '#default', ['#default']],
    ['no channel and no default: nowhere', [], 'pulse', null, []],
    ['pulses skip services that do not post them', [['a', ['#ops'], false], ['b', ['#deploys']]], 'pulse', '#default', ['#deploys']],
    ['a pulse whose services all chose not to post goes nowhere', [['a', ['#ops'], false]], 'pulse', '#default', []],
    ['incidents ignore the pulse switch', [['a', ['#ops'], false]], 'incident', '#default', ['#ops']],
    ['a pulse of a posting service without channels: the default channel', [['a', [], true], ['b', ['#quiet'], false]], 'pulse', '#default', ['#default']],
    ['pulses keep the service-name order too', [['z', ['#z']], ['m', ['#m', '#Z']]], 'pulse', null, ['#m', '#Z']],
  ])('%s', async (_name, services, kind, defaultChannel, expected) => {
    const delivery = await route(services, kind, defaultChannel);
    expect(delivery.targets).toEqual(expected);
    // Each routed channel gets one new message row, ready to post.
    expect(delivery.messages.map((m) => [m.target, m.status, m.created]).sort()).toEqual(expected.map((target) => [target, 'posting', true]).sort());
  });
});
