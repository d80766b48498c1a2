import type pg from 'pg';
import { decryptSecret } from '../crypto.js';

export interface IntegrationRecord {
  id: string;
  secret: string;
  monitoredApps: string[];
  /** The same apps, for lookups per drain body. */
  monitored: ReadonlySet<string>;
  drainSalt: string;
}

interface Entry {
  record: IntegrationRecord | null;
  fetchedAt: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Integration secrets for signature checks, cached briefly so that ingest costs no extra
 * query per delivery. Unknown ids are cached too (bounded), so a flood of bad URLs does not
 * reach the database. Changes made in this process invalidate at once; other processes
 * see them within `ttlMs`, and a signature that fails against an older entry is rechecked
 * with a fresh read (a just-rotated secret). Requests that find an entry expired together share
 * one read.
 */
export class IntegrationDirectory {
  private readonly entries = new Map<string, Entry>();
  /** Reads under way: requests that find an entry expired wait for the one read, not each its own. */
  private readonly reading = new Map<string, Promise<IntegrationRecord | null>>();
  /** Counts changes made in this process, so a read that overlapped one is not cached. */
  private generation = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly secretKey: Buffer,
    private readonly options: { ttlMs: number; maxEntries: number } = { ttlMs: 5_000, maxEntries: 10_000 },
  ) {}

  async get(id: string, options: { maxAgeMs?: number } = {}): Promise<IntegrationRecord | null> {
    if (!UUID.test(id)) return null;
    const maxAge = Math.min(options.maxAgeMs ?? this.options.ttlMs, this.options.ttlMs);
    const cached = this.entries.get(id);
    if (cached && Date.now() - cached.fetchedAt <= maxAge) return cached.record;
    const under = this.reading.get(id);
    if (under !== undefined) return under;
    const read = this.read(id).finally(() => {
      if (this.reading.get(id) === read) this.reading.delete(id);
    });
    this.reading.set(id, read);
    return read;
  }

  private async read(id: string): Promise<IntegrationRecord | null> {
    const generation = this.generation;
    const { rows } = await this.pool.query<{ id: string; secret_ciphertext: string; monitored_apps: string[] | null; drain_salt: string }>(
      'SELECT id, secret_ciphertext, monitored_apps, drain_salt FROM heroku_integrations WHERE id = $1',
      [id],
    );
    const row = rows[0];
    const record = row
      ? {
          id: row.id,
          secret: decryptSecret(this.secretKey, row.secret_ciphertext),
          monitoredApps: row.monitored_apps ?? [],
          monitored: new Set(row.monitored_apps ?? []),
          drainSalt: row.drain_salt,
        }
      : null;
    // A change made in this process while reading may not be in what was read: not cached then.
    if (generation === this.generation) {
      if (this.entries.size >= this.options.maxEntries) this.entries.clear();
      this.entries.set(id, { record, fetchedAt: Date.now() });
    }
    return record;
  }

  invalidate(id: string): void {
    this.generation += 1;
    this.entries.delete(id);
    this.reading.delete(id);
  }
}
