import type pg from 'pg';
import type { Logger } from '../logger.js';
import { repeatEvery } from '../repeat.js';
import type { Metrics } from '../metrics.js';
import type { Queues } from '../queues/queues.js';
import { storeEvents, type NewEvent } from '../ingest/event-store.js';
import { DEFAULT_QUIET_MINUTES, type DrainRule } from './drain-rules.js';
import { dirtyMember, fromDirtyMember, type DrainWindowStore, LINES_FIELD } from './drain-windows-store.js';
import { HTTP_5XX } from './signals.js';
import { crossingEvent, findCrossings, minuteOf, quietEvent, windowStartOf, type DrainEventEnvelope, type SignalFacts } from './windows.js';

/** How far back a worker that starts looks for error signals it has not judged yet: its longest window, and a minute. */
const catchUpMs = (longestWindow: number) => (longestWindow + 1) * 60_000;
/** A body counted just before a tick may reach Redis after it: each tick looks this far back too. */
const OVERLAP_MS = 2_000;
/** Apps without an error signal for this long leave the dirty set. */
const FORGET_DIRTY_MS = 2 * 3600_000;
/** Events stored per statement (PostgreSQL takes at most 65,535 parameters in one). */
const STORE_CHUNK = 500;
/** Windows above threshold one app may add per pass: the first by rule order. */
const MAX_CROSSINGS_PER_APP = 20;
/**
 * Apps with a 5xx in an open share window are judged again this often even without a new error
 * (requests alone can bring the share's window to its minimum of requests).
 */
const SHARE_RECHECK_MS = 10_000;
/** How often quiet periods are checked (they are minutes long). */
const QUIET_CHECK_MS = 5_000;
/** A closed minute is final this long after it ended (bodies in flight have been counted). */
const MINUTE_SETTLE_MS = 5_000;
/** How long per-minute counts are kept for charts, and how often older ones are deleted. */
export const SIGNAL_MINUTES_RETENTION_DAYS = 30;
const PRUNE_EVERY_MS = 3600_000;

export interface DrainEvaluatorDeps {
  pool: pg.Pool;
  windows: DrainWindowStore;
  queues: Queues;
  rules: readonly DrainRule[];
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
}

/**
 * Judges drain windows against the drain rules, in the worker. Each tick reads the current
 * minute of every app with an error signal since the last tick (closed minutes are kept from
 * earlier reads: counting is by arrival time, so a closed minute no longer changes), finds the
 * windows above threshold (`findCrossings`) and archives each as an event, whose id names the
 * window: evaluated again by this or another worker, it is stored once, and applied like any
 * other event (incident, grouping, Slack, suspect deploy). Closed minutes with signals are copied
 * to `log_signal_minutes` for charts. Every few seconds, open drain incidents whose last window
 * above threshold ended a quiet period ago get the event that resolves them.
 */
export class DrainEvaluator {
  private readonly now: () => number;
  private lastTickMs: number | null = null;
  private lastQuietCheckMs = 0;
  private lastPruneMs = 0;
  private lastShareRecheckMs = 0;
  /** Apps with a 5xx in an open share window, and the minute after which that window is closed. */
  private readonly shareWatch = new Map<string, number>();
  /** Closed minutes already read, per app member and minute. */
  private readonly closed = new Map<string, Map<number, Record<string, number>>>();
  /** Minutes read while open, to copy to PostgreSQL once they settle. */
  private readonly toPersist = new Map<string, Set<number>>();
  /** Event ids stored recently (a window above threshold is judged again every tick). */
  private readonly stored = new Map<string, number>();

  constructor(private readonly deps: DrainEvaluatorDeps) {
    this.now = deps.now ?? Date.now;
  }

  private get longestWindow(): number {
    return Math.max(1, ...this.deps.rules.map((rule) => rule.windowMinutes));
  }

  /** One pass: windows with new error signals, then (every few seconds) quiet periods. */
  async tick(): Promise<{ crossings: number; resolved: number }> {
    const now = this.now();
    const since = this.lastTickMs === null ? now - catchUpMs(this.longestWindow) : this.lastTickMs - OVERLAP_MS;
    const dirty = await this.deps.windows.dirtySince(since);
    this.lastTickMs = now;
    if (now - this.lastShareRecheckMs >= SHARE_RECHECK_MS && this.shareWatch.size > 0) {
      this.lastShareRecheckMs = now;
      const listed = new Set(dirty.map((app) => dirtyMember(app.integrationId, app.appName)));
      for (const [member, untilMinute] of this.shareWatch) {
        if (untilMinute < minuteOf(now)) this.shareWatch.delete(member);
        else if (!listed.has(member)) {
          const app = fromDirtyMember(member);
          if (app !== null) dirty.push({ ...app, atMs: now });
        }
      }
    }
    // Each step on its own: one that fails (and is retried next pass) holds up none of the others.
    const crossings = await this.step('judging windows', () => this.judge(dirty, now), 0);
    await this.step('copying settled minutes', () => this.persistSettled(now), undefined);
    let resolved = 0;
    if (now - this.lastQuietCheckMs >= QUIET_CHECK_MS) {
      this.lastQuietCheckMs = now;
      resolved = await this.step('resolving quiet incidents', () => this.resolveQuiet(now), 0);
      await this.step('forgetting old windows', () => this.deps.windows.forgetDirtyBefore(now - FORGET_DIRTY_MS), undefined);
      this.forgetOld(now);
    }
    if (now - this.lastPruneMs >= PRUNE_EVERY_MS) {
      this.lastPruneMs = now;
      await this.deps.pool.query(`DELETE FROM log_signal_minutes WHERE minute < $1`, [new Date(now - SIGNAL_MINUTES_RETENTION_DAYS * 86_400_000)]);
    }
    return { crossings, resolved };
  }

  private async step<T>(what: string, run: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await run();
    } catch (err) {
      this.deps.logger.warn({ err }, `drain evaluation: ${what} failed; will retry`);
      return fallback;
    }
  }

  private async judge(apps: { integrationId: string; appName: string }[], now: number): Promise<number> {
    if (apps.length === 0 || this.deps.rules.length === 0) return 0;
    const nowMinute = minuteOf(now);
    const firstMinute = nowMinute - this.longestWindow;
    // Read the open minute always, a closed one only when not read since it closed.
    const fresh = await this.deps.windows.readBuckets(apps, nowMinute, nowMinute);
    const missing = apps.filter((app) => {
      const cached = this.closed.get(dirtyMember(app.integrationId, app.appName));
      return cached === undefined || !cached.has(nowMinute - 1);
    });
    const older = missing.length === 0 ? new Map() : await this.deps.windows.readBuckets(missing, firstMinute, nowMinute - 1);
    const events: (DrainEventEnvelope & { integrationId: string })[] = [];
    for (const app of apps) {
      const member = dirtyMember(app.integrationId, app.appName);
      let cached = this.closed.get(member);
      if (cached === undefined) this.closed.set(member, (cached = new Map()));
      const read = older.get(member);
      if (read !== undefined) {
        for (let minute = firstMinute; minute < nowMinute; minute += 1) {
          // An empty minute is remembered too, so it is not read again.
          if (!cached.has(minute)) cached.set(minute, read.get(minute) ?? {});
        }
      }
      for (const minute of cached.keys()) if (minute < firstMinute) cached.delete(minute);
      const current = fresh.get(member)?.get(nowMinute);
      const buckets = new Map(cached);
      if (current !== undefined) buckets.set(nowMinute, current);
      let pending = this.toPersist.get(member);
      if (pending === undefined) this.toPersist.set(member, (pending = new Set()));
      pending.add(nowMinute);
      this.watchShare(member, buckets, nowMinute);
      for (const crossing of findCrossings(this.deps.rules, buckets, nowMinute).slice(0, MAX_CROSSINGS_PER_APP)) {
        const event = crossingEvent(app.appName, crossing, now);
        const key = `${app.integrationId} ${event.eventId}`;
        if (this.stored.has(key)) continue;
        events.push({ ...event, integrationId: app.integrationId });
      }
    }
    return this.store(events, now, 'crossed');
  }

  /** Keeps an app with a 5xx in an open share window on the list of apps judged again. */
  private watchShare(member: string, buckets: ReadonlyMap<number, Record<string, number>>, nowMinute: number): void {
    for (const rule of this.deps.rules) {
      if (rule.measure !== 'share') continue;
      const start = windowStartOf(nowMinute, rule.windowMinutes);
      for (let minute = start; minute <= nowMinute; minute += 1) {
        const bucket = buckets.get(minute);
        if (bucket !== undefined && Object.keys(bucket).some((field) => field.endsWith(` ${HTTP_5XX}`))) {
          this.shareWatch.set(member, Math.max(this.shareWatch.get(member) ?? 0, start + rule.windowMinutes));
          break;
        }
      }
    }
  }

  /** Archives drain events and queues the new ones; returns how many were new. */
  private async store(events: (DrainEventEnvelope & { integrationId: string | null })[], now: number, action: 'crossed' | 'quiet'): Promise<number> {
    if (events.length === 0) return 0;
    let count = 0;
    let failure: unknown;
    for (let start = 0; start < events.length; start += STORE_CHUNK) {
      try {
        count += await this.storeChunk(events.slice(start, start + STORE_CHUNK), now, action);
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
    return count;
  }

  private async storeChunk(events: (DrainEventEnvelope & { integrationId: string | null })[], now: number, action: 'crossed' | 'quiet'): Promise<number> {
    const rows: NewEvent[] = events.map(({ payload, ...event }) => ({ ...event, addonResourceId: null, payloadJson: JSON.stringify(payload) }));
    const stored = await storeEvents(this.deps.pool, rows);
    const fresh: { eventId: string; eventRowId: string }[] = [];
    stored.forEach((result, index) => {
      if (result instanceof Error) {
        this.deps.logger.warn({ eventId: rows[index]!.eventId, err: result.message }, 'drain event refused by the database');
        return;
      }
      this.stored.set(`${events[index]!.integrationId} ${result.eventId}`, now);
      if (result.inserted) fresh.push({ eventId: result.eventId, eventRowId: result.eventRowId });
    });
    if (fresh.length > 0) {
      this.deps.metrics.drainCrossings.inc({ action }, fresh.length);
      // Stored first: if queueing fails, the reconciler queues them.
      await this.deps.queues.enqueueEvents(fresh).catch((err: unknown) => this.deps.logger.warn({ err }, 'drain events stored but not queued; the reconciler will queue them'));
    }
    return fresh.length;
  }

  /** Copies minutes that settled to `log_signal_minutes` (what the charts read). */
  private async persistSettled(now: number): Promise<void> {
    const settled = minuteOf(now - MINUTE_SETTLE_MS) - 1;
    const due: { integrationId: string; appName: string; minutes: number[] }[] = [];
    for (const [member, minutes] of this.toPersist) {
      const ready = [...minutes].filter((minute) => minute <= settled);
      if (ready.length === 0) continue;
      for (const minute of ready) minutes.delete(minute);
      if (minutes.size === 0) this.toPersist.delete(member);
      const app = fromDirtyMember(member);
      if (app !== null) due.push({ ...app, minutes: ready });
    }
    if (due.length === 0) return;
    // Apps with the same minutes due are read together.
    const groups = new Map<string, typeof due>();
    for (const app of due) {
      const key = app.minutes.sort((a, b) => a - b).join(',');
      const group = groups.get(key);
      if (group) group.push(app);
      else groups.set(key, [app]);
    }
    const rows: unknown[][] = [];
    for (const group of groups.values()) {
      const minutes = group[0]!.minutes;
      const read = await this.deps.windows.readBuckets(group, minutes[0]!, minutes[minutes.length - 1]!);
      for (const app of group) {
        const member = dirtyMember(app.integrationId, app.appName);
        let cached = this.closed.get(member);
        if (cached === undefined) this.closed.set(member, (cached = new Map()));
        for (const minute of minutes) {
          const bucket = read.get(member)?.get(minute) ?? {};
          cached.set(minute, bucket);
          for (const field in bucket) {
            if (field === LINES_FIELD) continue;
            const space = field.lastIndexOf(' ');
            rows.push([app.integrationId, app.appName, field.slice(0, space), field.slice(space + 1), new Date(minute * 60_000), bucket[field]]);
          }
        }
      }
    }
    for (let start = 0; start < rows.length; start += 500) {
      const slice = rows.slice(start, start + 500);
      const tuples = slice.map((_, index) => {
        const base = index * 6;
        return `($${base + 1}::uuid, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5}::timestamptz, $${base + 6}::int)`;
      });
      await this.deps.pool.query(
        `INSERT INTO log_signal_minutes (integration_id, app_name, process_type, signal, minute, count) VALUES ${tuples.join(', ')}
         ON CONFLICT (integration_id, app_name, signal, process_type, minute) DO UPDATE SET count = GREATEST(log_signal_minutes.count, EXCLUDED.count)`,
        slice.flat(),
      );
    }
  }

  /**
   * Open drain incidents whose last window above threshold ended their quiet period ago. The last
   * window is the incident's latest alert, unless a newer window of its app and signal is stored
   * and not applied yet (then it is not quiet). Incidents of a deleted integration resolve too.
   */
  private async resolveQuiet(now: number): Promise<number> {
    const { rows } = await this.deps.pool.query<{ id: string; app_name: string; entity: string; dedup_key: string; integration_id: string | null; occurred_at: Date; signal: SignalFacts; pending: boolean }>(
      `SELECT i.id, i.app_name, i.entity, i.dedup_key, last.integration_id, last.occurred_at, last.payload -> 'signal' AS signal,
              EXISTS (SELECT 1 FROM events p
                       WHERE p.status = 'received' AND p.received_at > now() - interval '1 hour' AND p.source = 'heroku_drain'
                         AND p.action = 'crossed' AND p.app_name = i.app_name AND p.entity = i.entity
                         AND p.occurred_at > last.occurred_at) AS pending
         FROM incidents i
         CROSS JOIN LATERAL (
           SELECT e.integration_id, e.occurred_at, e.payload FROM timeline_entries t JOIN events e ON e.id = t.event_id
            WHERE t.incident_id = i.id AND t.kind IN ('triggered', 'alert') AND e.source = 'heroku_drain'
            ORDER BY (e.payload -> 'signal' ->> 'window_end') DESC, e.occurred_at DESC LIMIT 1) last
        WHERE i.status IN ('triggered', 'acknowledged') AND i.entity LIKE 'log:%' AND i.app_name IS NOT NULL`,
    );
    const byName = new Map(this.deps.rules.map((rule) => [rule.name, rule]));
    const events: (DrainEventEnvelope & { integrationId: string | null })[] = [];
    for (const row of rows) {
      const signal = row.signal;
      if (row.pending || typeof signal?.window_end !== 'string') continue;
      const quietMinutes = byName.get(signal.rule)?.quietMinutes ?? (Number(signal.quiet_minutes) || DEFAULT_QUIET_MINUTES);
      if (Date.parse(signal.window_end) + quietMinutes * 60_000 > now) continue;
      const event = quietEvent({ id: row.id, appName: row.app_name, entity: row.entity, dedupKey: row.dedup_key }, signal, row.occurred_at, quietMinutes);
      if (this.stored.has(`${row.integration_id} ${event.eventId}`)) continue;
      events.push({ ...event, integrationId: row.integration_id });
    }
    return this.store(events, now, 'quiet');
  }

  private forgetOld(now: number): void {
    const horizon = now - (this.longestWindow + 2) * 60_000;
    for (const [key, at] of this.stored) if (at < horizon) this.stored.delete(key);
    const firstMinute = minuteOf(now) - this.longestWindow - 1;
    for (const [member, minutes] of this.closed) {
      for (const minute of minutes.keys()) if (minute < firstMinute) minutes.delete(minute);
      if (minutes.size === 0) this.closed.delete(member);
    }
  }
}

/** Runs `tick` every `intervalMs` (one at a time) until stopped. */
export function startDrainEvaluator(evaluator: DrainEvaluator, options: { intervalMs: number; logger: Logger }) {
  return repeatEvery(options.intervalMs, () => evaluator.tick(), (err) => options.logger.warn({ err }, 'drain evaluation failed; will retry'));
}
