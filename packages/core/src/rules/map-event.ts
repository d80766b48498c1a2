import type { Template } from 'liquidjs';
import { sha256Hex } from '../crypto.js';
import { isDrainEntity } from '../drains/drain-rules.js';
import { templateScope } from './event-facts.js';
import { SEVERITIES, type RuleSet, type Severity } from './rule-set.js';

/** The event as the mapping needs it: envelope and payload, no database ids. */
export interface MappableEvent {
  entity: string;
  resource: string;
  action: string | null;
  appName: string | null;
  occurredAt: Date | null;
  payload: unknown;
}

export type EventCommand =
  | { type: 'incident.trigger'; rule: string; dedupKey: string; title: string; severity: Severity; autoResolveMinutes?: number }
  /** `timelineKind: 'auto_resolved'`: pulsebridge resolved it itself (a drain signal's quiet period). */
  /** `quietSince`: resolves only an incident with no alert after that time (a quiet period's last window). */
  | { type: 'incident.resolve'; rule: string; dedupKey: string; message: string | null; timelineKind?: 'auto_resolved'; quietSince?: string }
  /** An incident recorded already resolved (a rule's `action: note`): a record, never a page. */
  | { type: 'incident.note'; rule: string; dedupKey: string; title: string; severity: Severity }
  | {
      type: 'pulse';
      rule: string;
      kind: 'build' | 'release' | 'deploy';
      summary: string;
      dedupKey: string;
      status: string | null;
      version: string | null;
      commitSha: string | null;
      actorEmail: string | null;
      externalId: string | null;
      correlationId: string | null;
      fields: Record<string, string>;
    };

/** A rule rendered something it must not (an empty dedup key, an unknown severity). */
export class RuleRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleRenderError';
  }
}

const MAX_TEXT = 1_000;

/** Longest dedup or correlation key: they are indexed, and a dyno name may be 1,000 characters. */
export const MAX_KEY_LENGTH = 200;
const KEY_PREFIX_LENGTH = 150;

/**
 * A key as rendered when short; a longer one keeps a readable prefix and adds a digest of the
 * whole, so it stays within MAX_KEY_LENGTH and equal keys (only equal keys) stay equal.
 */
export function boundKey(key: string): string {
  if (key.length <= MAX_KEY_LENGTH) return key;
  let prefix = key.slice(0, KEY_PREFIX_LENGTH);
  // Never end on half a surrogate pair: PostgreSQL refuses text that is not valid UTF-8.
  if (/[\uD800-\uDBFF]$/.test(prefix)) prefix = prefix.slice(0, -1);
  return `${prefix}...#${sha256Hex(key).slice(0, 40)}`;
}

/** The last alert a quiet period follows, from a drain event's signal. */
function quietSince(signal: unknown): { quietSince?: string } {
  const since = (signal as { last_crossed_at?: unknown } | null)?.last_crossed_at;
  return typeof since === 'string' && !Number.isNaN(Date.parse(since)) ? { quietSince: new Date(since).toISOString() } : {};
}

/**
 * Maps one Heroku event to what it does: incident triggers and resolves, pulses. Pure: the
 * same event and rules give the same commands, with no I/O.
 */
export function mapEvent(event: MappableEvent, ruleSet: RuleSet): EventCommand[] {
  const scope = templateScope(event);
  const render = (template: Template[]): string => String(ruleSet.liquid.renderSync(template, scope)).trim().slice(0, MAX_TEXT);
  const optional = (template: Template[] | null): string | null => {
    if (template === null) return null;
    const value = render(template);
    return value === '' ? null : value;
  };
  const required = (rule: string, field: string, template: Template[]): string => {
    const value = render(template);
    if (value === '') throw new RuleRenderError(`rule ${rule}: ${field} rendered empty for this event`);
    return value;
  };
  // Keys are rendered whole (not cut at MAX_TEXT) so that a digest tells long keys apart.
  const renderKey = (template: Template[]): string => boundKey(String(ruleSet.liquid.renderSync(template, scope)).trim());
  const key = (rule: string, template: Template[]): string => {
    const value = renderKey(template);
    if (value === '') throw new RuleRenderError(`rule ${rule}: dedup_key rendered empty for this event`);
    return value;
  };
  const optionalKey = (template: Template[] | null): string | null => {
    const value = template === null ? '' : renderKey(template);
    return value === '' ? null : value;
  };

  const commands: EventCommand[] = [];
  for (const rule of isDrainEntity(event.entity) ? ruleSet.drains.incidentRules : ruleSet.rules) {
    if (!rule.entities.has(event.entity)) continue;
    if (rule.actions !== null && (event.action === null || !rule.actions.has(event.action))) continue;
    if (rule.when !== null && render(rule.when) !== 'true') continue;
    const incident = rule.incident;
    if (incident?.action === 'trigger' || incident?.action === 'note') {
      const severity = render(incident.severity);
      if (!(SEVERITIES as readonly string[]).includes(severity)) {
        throw new RuleRenderError(`rule ${rule.name}: severity rendered ${JSON.stringify(severity)}, not one of ${SEVERITIES.join(', ')}`);
      }
      commands.push({
        type: incident.action === 'trigger' ? 'incident.trigger' : 'incident.note',
        rule: rule.name,
        dedupKey: key(rule.name, incident.dedupKey),
        title: required(rule.name, 'title', incident.title),
        severity: severity as Severity,
        ...(incident.action === 'trigger' && incident.autoResolveMinutes !== undefined && { autoResolveMinutes: incident.autoResolveMinutes }),
      });
    } else if (incident?.action === 'resolve') {
      commands.push({
        type: 'incident.resolve',
        rule: rule.name,
        dedupKey: key(rule.name, incident.dedupKey),
        message: optional(incident.message),
        ...(incident.auto === true && { timelineKind: 'auto_resolved' as const, ...quietSince(scope.signal) }),
      });
    }
    const pulse = rule.pulse;
    if (pulse !== null) {
      commands.push({
        type: 'pulse',
        rule: rule.name,
        kind: pulse.kind,
        summary: required(rule.name, 'summary', pulse.summary),
        dedupKey: key(rule.name, pulse.dedupKey),
        status: optional(pulse.status),
        version: optional(pulse.version),
        commitSha: optional(pulse.commitSha),
        actorEmail: optional(pulse.actorEmail),
        externalId: optional(pulse.externalId),
        correlationId: optionalKey(pulse.correlationId),
        fields: Object.fromEntries(pulse.fields.map(([key, template]) => [key, render(template)]).filter(([, value]) => value !== '')),
      });
    }
  }
  return commands;
}
