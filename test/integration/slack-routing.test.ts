import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/stack.js';

// Routing decides which channels hear about an incident or a pulse. It runs in PostgreSQL
// (`pulsebridge_slack_targets`), in the statement that creates the message rows.
let db: pg.Client;

beforeAll(async () => {
  db = new pg.Client({ connectionString: await createTestDatabase() });
  await db.connect();
});

afterAll(async () => {
  await db.end();
});

type Svc = [name: string, channels: string[], postPulses?: boolean];

async function route(services: Svc[], kind: 'incident' | 'pulse', defaultChannel: string | null): Promise<string[]> {
  await db.query('BEGIN');
  try {
    const ids: string[] = [];
    for (const [name, channels, postPulses = true] of services) {
      const { rows } = await db.query<{ id: string }>('INSERT INTO services (name, slack_channels, post_pulses) VALUES ($1, $2, $3) RETURNING id', [name, channels, postPulses]);
      ids.push(rows[0]!.id);
    }
    const { rows } = await db.query<{ targets: string[] }>('SELECT pulsebridge_slack_targets($1, $2, $3) AS targets', [ids, kind, defaultChannel]);
    return rows[0]!.targets;
  } finally {
    await db.query('ROLLBACK');
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
  ])('%s', async (_name, services, kind, defaultChannel, expected) => {
    expect(await route(services, kind, defaultChannel)).toEqual(expected);
  });
});
