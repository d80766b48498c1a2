import type { DrainRule } from './drain-rules.js';
import { drainEntity, DRAIN_ACTIONS } from './drain-rules.js';
import { REQUESTS, SIGNAL_DESCRIPTIONS } from './signals.js';
import type { EventEnvelope } from '../heroku/event-envelope.js';

/**
 * Drain signals are counted per app in minute buckets: field `<process type> <signal>` (`web
 * H12`, `worker R14`, `web 5xx`, `web req`) to its count. A rule's windows are whole minutes,
 * `window_minutes` long, starting at a multiple of that length (UTC, from the epoch), so every
 * process that evaluates them sees the same windows.
 */
export type MinuteBuckets = ReadonlyMap<number, Readonly<Record<string, number>>>;

export const minuteOf = (ms: number): number => Math.floor(ms / 60_000);
export const minuteToIso = (minute: number): string => new Date(minute * 60_000).toISOString();
export const windowStartOf = (minute: number, windowMinutes: number): number => Math.floor(minute / windowMinutes) * windowMinutes;

/** Longest process type name kept; longer or odd ones count as `other`. */
const PROCESS_TYPE = /^[A-Za-z0-9_-]{1,40}$/;
export const bucketField = (processType: string, signal: string): string => `${PROCESS_TYPE.test(processType) ? processType : 'other'} ${signal}`;

/** A rule's window above its threshold for one process type. */
export interface Crossing {
  rule: DrainRule;
  processType: string;
  /** First minute of the window (epoch minutes). */
  windowStart: number;
  count: number;
  /** Requests in the window (5xx rules), else null. */
  requests: number | null;
}

/**
 * The windows above threshold among those that hold `nowMinute` or the minute before it (a
 * window that ended a moment ago still gets its last lines judged). Pure: the same buckets and
 * rules give the same crossings, whichever process evaluates them.
 */
export function findCrossings(rules: readonly DrainRule[], buckets: MinuteBuckets, nowMinute: number): Crossing[] {
  const crossings: Crossing[] = [];
  // Windows of one length are summed once for all the rules that use it.
  const byLength = new Map<number, DrainRule[]>();
  for (const rule of rules) {
    const list = byLength.get(rule.windowMinutes);
    if (list) list.push(rule);
    else byLength.set(rule.windowMinutes, [rule]);
  }
  for (const [windowMinutes, sameLength] of byLength) {
    const starts = new Set([windowStartOf(nowMinute, windowMinutes), windowStartOf(nowMinute - 1, windowMinutes)]);
    for (const windowStart of starts) {
      // signal -> process type -> count, over the window's minutes so far.
      const sums = new Map<string, Map<string, number>>();
      for (let minute = windowStart; minute < windowStart + windowMinutes && minute <= nowMinute; minute += 1) {
        const bucket = buckets.get(minute);
        if (bucket === undefined) continue;
        for (const field in bucket) {
          const space = field.lastIndexOf(' ');
          if (space === -1) continue;
          const signal = field.slice(space + 1);
          const processType = field.slice(0, space);
          let perProcess = sums.get(signal);
          if (perProcess === undefined) sums.set(signal, (perProcess = new Map()));
          perProcess.set(processType, (perProcess.get(processType) ?? 0) + (Number(bucket[field]) || 0));
        }
      }
      for (const rule of sameLength) {
        const counts = sums.get(rule.signal);
        if (counts === undefined) continue;
        const requestsOf = sums.get(REQUESTS);
        for (const [processType, count] of counts) {
          if (rule.processTypes !== null && !rule.processTypes.has(processType)) continue;
          const requests = requestsOf?.get(processType) ?? 0;
          const above = rule.measure === 'count' ? count >= rule.threshold : requests >= rule.minRequests && count > 0 && (count * 100) / requests >= rule.threshold;
          if (above) crossings.push({ rule, processType, windowStart, count, requests: rule.measure === 'share' ? requests : null });
        }
      }
    }
  }
  return crossings;
}

/** What drain events carry as `signal` (the templates' `signal`). */
export interface SignalFacts {
  code: string;
  description: string;
  process_type: string;
  rule: string;
  count: number;
  requests: number | null;
  percent: number | null;
  threshold: string;
  window_minutes: number;
  window_start: string;
  window_end: string;
  quiet_minutes: number;
}

export function signalFacts(crossing: Crossing): SignalFacts {
  const { rule } = crossing;
  return {
    code: rule.signal,
    description: SIGNAL_DESCRIPTIONS[rule.signal],
    process_type: crossing.processType,
    rule: rule.name,
    count: crossing.count,
    requests: crossing.requests,
    percent: crossing.requests ? Math.round((crossing.count * 1000) / crossing.requests) / 10 : null,
    threshold: rule.measure === 'share' ? `${rule.threshold}%` : String(rule.threshold),
    window_minutes: rule.windowMinutes,
    window_start: minuteToIso(crossing.windowStart),
    window_end: minuteToIso(crossing.windowStart + rule.windowMinutes),
    quiet_minutes: rule.quietMinutes,
  };
}

/** A drain event to archive, as the event store takes it. */
export type DrainEventEnvelope = EventEnvelope & { payload: { signal: SignalFacts & { dedup_key?: string; last_crossed_at?: string } } };

/**
 * The archived event for a window above threshold. Its id names the app, process type, rule and
 * window, so evaluating the same window again (in any process) stores nothing new; it happened
 * when it was detected, or at the window's end if detected later.
 */
export function crossingEvent(appName: string, crossing: Crossing, detectedAtMs: number): DrainEventEnvelope {
  const facts = signalFacts(crossing);
  const windowEndMs = (crossing.windowStart + crossing.rule.windowMinutes) * 60_000;
  return {
    eventId: `log:${appName}:${crossing.processType}:${crossing.rule.name}:${facts.window_start}`,
    deliveryId: null,
    source: 'heroku_drain',
    resource: 'log',
    entity: drainEntity(crossing.rule.signal),
    action: DRAIN_ACTIONS.crossed,
    appName,
    occurredAt: new Date(Math.min(detectedAtMs, windowEndMs - 1)),
    payload: { signal: facts },
  };
}

/**
 * The archived event that resolves a drain incident whose last window above threshold ended
 * `quiet_minutes` ago: one per incident and last window, whoever writes it first. It names the
 * incident by its dedup key, and when its last alert happened: applied after a newer alert of
 * the incident, it resolves nothing.
 */
export function quietEvent(
  incident: { id: string; appName: string; entity: string; dedupKey: string },
  last: SignalFacts,
  lastCrossedAt: Date,
  quietMinutes: number,
): DrainEventEnvelope {
  const quietAt = Date.parse(last.window_end) + quietMinutes * 60_000;
  return {
    eventId: `log-quiet:${incident.id}:${last.window_end}`,
    deliveryId: null,
    source: 'heroku_drain',
    resource: 'log',
    entity: incident.entity,
    action: DRAIN_ACTIONS.quiet,
    appName: incident.appName,
    occurredAt: new Date(quietAt),
    payload: { signal: { ...last, quiet_minutes: quietMinutes, dedup_key: incident.dedupKey, last_crossed_at: lastCrossedAt.toISOString() } },
  };
}
