import type pg from 'pg';
import type { DrainWindowStore } from './drain-windows-store.js';
import { HTTP_5XX, REQUESTS } from './signals.js';
import { minuteOf, windowStartOf, type SignalFacts } from './windows.js';

/** Minutes shown before the first window above threshold, and after the resolution. */
const BEFORE_MINUTES = 30;
const AFTER_MINUTES = 10;
/** The longest series a chart shows (the most recent minutes of a long incident). */
export const MAX_SERIES_MINUTES = 6 * 60;

/**
 * A drain incident's signal per minute, as its rule judged it: for each minute, the count (or the
 * 5xx share, in percent) of the rule's window up to that minute, so the threshold applies to
 * every point. From `log_signal_minutes`, and from Redis' windows for the minutes not copied yet.
 */
export interface SignalSeries {
  code: string;
  processType: string;
  appName: string;
  measure: 'count' | 'share';
  threshold: number;
  windowMinutes: number;
  fromMinute: number;
  toMinute: number;
  /** One value per minute from `fromMinute` to `toMinute`. */
  values: number[];
  /** Minutes in which a window crossed its threshold (the incident's alerts). */
  crossings: number[];
  /** When the suspect deploy went out, with what it was, if the incident names one. */
  suspect: { minute: number; label: string } | null;
  resolvedMinute: number | null;
}

/** The series of a drain incident (null for any other incident, or one without drain events). */
export async function drainSignalSeries(pool: pg.Pool, windows: DrainWindowStore, incident: { id: string; appName: string | null; resolvedAt: Date | null }, nowMs = Date.now()): Promise<SignalSeries | null> {
  if (incident.appName === null) return null;
  const { rows } = await pool.query<{ integration_id: string | null; occurred_at: Date; signal: SignalFacts }>(
    `SELECT e.integration_id, e.occurred_at, e.payload -> 'signal' AS signal
       FROM timeline_entries t JOIN events e ON e.id = t.event_id
      WHERE t.incident_id = $1 AND t.kind IN ('triggered', 'alert') AND e.source = 'heroku_drain'
      ORDER BY e.occurred_at`,
    [incident.id],
  );
  const first = rows[0];
  // Without its integration (deleted since), its counts cannot be told from another's.
  if (first === undefined || first.integration_id === null || typeof first.signal?.window_start !== 'string') return null;
  const integrationId = first.integration_id;
  const signal = first.signal;
  const measure = signal.code === HTTP_5XX ? 'share' : 'count';
  const windowMinutes = Math.max(1, Number(signal.window_minutes) || 1);
  const nowMinute = minuteOf(nowMs);
  const resolvedMinute = incident.resolvedAt === null ? null : minuteOf(incident.resolvedAt.getTime());
  const toMinute = Math.min(nowMinute, (resolvedMinute ?? nowMinute) + AFTER_MINUTES);
  const fromMinute = Math.max(minuteOf(Date.parse(signal.window_start)) - BEFORE_MINUTES, toMinute - MAX_SERIES_MINUTES + 1);
  // Read from the start of the first window shown, so its first points sum whole windows.
  const readFrom = windowStartOf(fromMinute, windowMinutes);
  const signals = measure === 'share' ? [HTTP_5XX, REQUESTS] : [signal.code];

  const counts = new Map<number, { count: number; requests: number }>();
  const add = (minute: number, name: string, value: number, keep: 'max' | 'set') => {
    let entry = counts.get(minute);
    if (entry === undefined) counts.set(minute, (entry = { count: 0, requests: 0 }));
    const key = name === REQUESTS ? 'requests' : 'count';
    entry[key] = keep === 'max' ? Math.max(entry[key], value) : value;
  };
  const stored = await pool.query<{ minute: Date; signal: string; count: number }>(
    `SELECT minute, signal, count FROM log_signal_minutes
      WHERE integration_id = $1 AND app_name = $2 AND signal = ANY($3) AND process_type = $4 AND minute BETWEEN $5 AND $6`,
    [integrationId, incident.appName, signals, signal.process_type, new Date(readFrom * 60_000), new Date(toMinute * 60_000)],
  );
  for (const row of stored.rows) add(minuteOf(row.minute.getTime()), row.signal, row.count, 'set');
  // Minutes not copied yet (the last few, while the signal is live) are still in Redis.
  const recentFrom = Math.max(readFrom, nowMinute - 5);
  if (toMinute >= recentFrom) {
    const buckets = await windows.readAppBuckets(integrationId, incident.appName, recentFrom, toMinute);
    for (const [minute, bucket] of buckets) {
      for (const name of signals) {
        const value = bucket[`${signal.process_type} ${name}`];
        if (value !== undefined) add(minute, name, value, 'max');
      }
    }
  }

  const values: number[] = [];
  for (let minute = fromMinute; minute <= toMinute; minute += 1) {
    let count = 0;
    let requests = 0;
    for (let m = windowStartOf(minute, windowMinutes); m <= minute; m += 1) {
      count += counts.get(m)?.count ?? 0;
      requests += counts.get(m)?.requests ?? 0;
    }
    values.push(measure === 'share' ? (requests === 0 ? 0 : Math.round((count * 1000) / requests) / 10) : count);
  }

  const suspect = await pool.query<{ occurred_at: Date; kind: string; version: string | null; summary: string }>(
    `SELECT p.occurred_at, p.kind::text AS kind, p.version, p.summary FROM timeline_entries t JOIN pulses p ON p.id = (t.data ->> 'pulseId')::uuid
      WHERE t.incident_id = $1 AND t.kind = 'suspect_deploy' ORDER BY t.seq LIMIT 1`,
    [incident.id],
  );
  const pulse = suspect.rows[0];
  return {
    code: signal.code,
    processType: signal.process_type,
    appName: incident.appName,
    measure,
    threshold: Number.parseFloat(String(signal.threshold)) || 0,
    windowMinutes,
    fromMinute,
    toMinute,
    values,
    crossings: rows.map((row) => minuteOf(row.occurred_at.getTime())).filter((minute) => minute >= fromMinute && minute <= toMinute),
    suspect: pulse ? { minute: minuteOf(pulse.occurred_at.getTime()), label: pulse.version ? `${pulse.kind} ${pulse.version}` : pulse.summary } : null,
    resolvedMinute,
  };
}
