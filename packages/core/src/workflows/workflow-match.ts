import type pg from 'pg';
import { SEVERITIES } from '../rules/severity.js';
import type { Workflow, WorkflowSet, WorkflowTrigger } from './workflow-config.js';

/** An incident as workflows see it (their templates' `incident`). */
export interface WorkflowIncident {
  id: string;
  number: number;
  title: string;
  status: string;
  severity: string;
  app_name: string | null;
  entity: string;
  dedup_key: string;
  alert_count: number;
  url: string;
}

/** A pulse as workflows see it (`pulse`). */
export interface WorkflowPulse {
  id: string;
  kind: string;
  summary: string;
  status: string | null;
  version: string | null;
  app_name: string | null;
  commit_sha: string | null;
  actor_email: string | null;
}

/** The change a workflow may run on: an incident's or a pulse's, with the services it is linked to. */
export interface WorkflowSubject {
  trigger: WorkflowTrigger;
  incident: WorkflowIncident | null;
  pulse: WorkflowPulse | null;
  /** Names of the linked services, in name order. */
  services: string[];
}

/** What a workflow's templates can use: `incident` or `pulse`, `service`, `services`, `app`, `workflow`, `trigger`. */
export function workflowScope(subject: WorkflowSubject, workflow: string) {
  const appName = subject.incident?.app_name ?? subject.pulse?.app_name ?? null;
  return {
    incident: subject.incident ?? {},
    pulse: subject.pulse ?? {},
    service: { name: subject.services[0] ?? '' },
    services: subject.services.join(', '),
    app: { name: appName ?? '' },
    workflow: { name: workflow },
    trigger: subject.trigger,
  };
}

const rank = (severity: string) => (SEVERITIES as readonly string[]).indexOf(severity);

/**
 * Whether a workflow's trigger and conditions hold for a change (its Liquid condition aside).
 * Pure: a function of the workflow and the change. For a pulse, `entity` is its kind (build,
 * release, deploy) and severities never match.
 */
export function workflowApplies(workflow: Workflow, subject: WorkflowSubject): boolean {
  if (!workflow.triggers.has(subject.trigger)) return false;
  const c = workflow.conditions;
  const incident = subject.incident;
  const entity = incident?.entity ?? subject.pulse?.kind ?? null;
  const severity = incident?.severity ?? null;
  const app = incident?.app_name ?? subject.pulse?.app_name ?? null;
  const title = incident?.title ?? subject.pulse?.summary ?? '';
  if (c.entities !== null && (entity === null || !c.entities.has(entity))) return false;
  if (c.severities !== null && (severity === null || !c.severities.has(severity))) return false;
  if (c.minSeverity !== null && (severity === null || rank(severity) > rank(c.minSeverity))) return false;
  if (c.apps !== null && (app === null || !c.apps.has(app))) return false;
  if (c.services !== null && !subject.services.some((name) => c.services!.has(name))) return false;
  if (c.titleContains !== null && !title.toLowerCase().includes(c.titleContains)) return false;
  return true;
}

/**
 * The enabled workflows that run on a change, in file order: trigger and conditions, then the
 * Liquid condition (`true` once rendered and trimmed). A condition that fails to render (a
 * template limit, say) does not run the workflow; `onConditionError` hears of it.
 */
export async function matchWorkflows(set: WorkflowSet, subject: WorkflowSubject, onConditionError?: (workflow: string, error: Error) => void): Promise<Workflow[]> {
  const matched: Workflow[] = [];
  for (const workflow of set.workflows) {
    if (!workflowApplies(workflow, subject)) continue;
    if (workflow.conditions.liquid !== null) {
      try {
        const rendered = String(await set.liquid.conditions.render(workflow.conditions.liquid, workflowScope(subject, workflow.name)));
        if (rendered.trim() !== 'true') continue;
      } catch (error) {
        onConditionError?.(workflow.name, error as Error);
        continue;
      }
    }
    matched.push(workflow);
  }
  return matched;
}

/**
 * The incidents and pulses some changes name, as workflows see them, with their services: two
 * queries for any number of changes. A change whose incident or pulse is gone has none.
 */
export async function loadWorkflowSubjects(
  db: pg.Pool | pg.PoolClient,
  changes: { key: string; trigger: WorkflowTrigger; incidentId: string | null; pulseId: string | null }[],
  publicUrl: string,
): Promise<Map<string, WorkflowSubject>> {
  const incidentIds = [...new Set(changes.flatMap((change) => (change.incidentId === null ? [] : [change.incidentId])))];
  const pulseIds = [...new Set(changes.flatMap((change) => (change.pulseId === null ? [] : [change.pulseId])))];
  const incidents = new Map<string, { incident: WorkflowIncident; services: string[] }>();
  if (incidentIds.length > 0) {
    const { rows } = await db.query<Omit<WorkflowIncident, 'url'> & { services: string[] }>(
      `SELECT i.id, i.number, i.title, i.status::text, i.severity::text, i.app_name, i.entity, i.dedup_key, i.alert_count,
              COALESCE((SELECT array_agg(s.name ORDER BY s.name) FROM incident_services l JOIN services s ON s.id = l.service_id WHERE l.incident_id = i.id), '{}') AS services
         FROM incidents i WHERE i.id = ANY($1::uuid[])`,
      [incidentIds],
    );
    for (const { services, ...incident } of rows) incidents.set(incident.id, { incident: { ...incident, url: `${publicUrl}/incidents/${incident.id}` }, services });
  }
  const pulses = new Map<string, { pulse: WorkflowPulse; services: string[] }>();
  if (pulseIds.length > 0) {
    const { rows } = await db.query<WorkflowPulse & { services: string[] }>(
      `SELECT p.id, p.kind::text, p.summary, p.status, p.version, p.app_name, p.commit_sha, p.actor_email,
              COALESCE((SELECT array_agg(s.name ORDER BY s.name) FROM pulse_services l JOIN services s ON s.id = l.service_id WHERE l.pulse_id = p.id), '{}') AS services
         FROM pulses p WHERE p.id = ANY($1::uuid[])`,
      [pulseIds],
    );
    for (const { services, ...pulse } of rows) pulses.set(pulse.id, { pulse, services });
  }
  const subjects = new Map<string, WorkflowSubject>();
  for (const change of changes) {
    const incident = change.incidentId === null ? undefined : incidents.get(change.incidentId);
    const pulse = change.pulseId === null ? undefined : pulses.get(change.pulseId);
    if (incident !== undefined) subjects.set(change.key, { trigger: change.trigger, incident: incident.incident, pulse: null, services: incident.services });
    else if (pulse !== undefined) subjects.set(change.key, { trigger: change.trigger, incident: null, pulse: pulse.pulse, services: pulse.services });
  }
  return subjects;
}
