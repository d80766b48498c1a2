import type { Template } from 'liquidjs';
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
  | { type: 'incident.trigger'; rule: string; dedupKey: string; title: string; severity: Severity }
  | { type: 'incident.resolve'; rule: string; dedupKey: string; message: string | null }
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

  const commands: EventCommand[] = [];
  for (const rule of ruleSet.rules) {
    if (!rule.entities.has(event.entity)) continue;
    if (rule.actions !== null && (event.action === null || !rule.actions.has(event.action))) continue;
    if (rule.when !== null && render(rule.when) !== 'true') continue;
    const incident = rule.incident;
    if (incident?.action === 'trigger') {
      const severity = render(incident.severity);
      if (!(SEVERITIES as readonly string[]).includes(severity)) {
        throw new RuleRenderError(`rule ${rule.name}: severity rendered ${JSON.stringify(severity)}, not one of ${SEVERITIES.join(', ')}`);
      }
      commands.push({
        type: 'incident.trigger',
        rule: rule.name,
        dedupKey: required(rule.name, 'dedup_key', incident.dedupKey),
        title: required(rule.name, 'title', incident.title),
        severity: severity as Severity,
      });
    } else if (incident?.action === 'resolve') {
      commands.push({ type: 'incident.resolve', rule: rule.name, dedupKey: required(rule.name, 'dedup_key', incident.dedupKey), message: optional(incident.message) });
    }
    const pulse = rule.pulse;
    if (pulse !== null) {
      commands.push({
        type: 'pulse',
        rule: rule.name,
        kind: pulse.kind,
        summary: required(rule.name, 'summary', pulse.summary),
        dedupKey: required(rule.name, 'dedup_key', pulse.dedupKey),
        status: optional(pulse.status),
        version: optional(pulse.version),
        commitSha: optional(pulse.commitSha),
        actorEmail: optional(pulse.actorEmail),
        externalId: optional(pulse.externalId),
        correlationId: optional(pulse.correlationId),
        fields: Object.fromEntries(pulse.fields.map(([key, template]) => [key, render(template)]).filter(([, value]) => value !== '')),
      });
    }
  }
  return commands;
}
