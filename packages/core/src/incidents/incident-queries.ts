import { z } from 'zod';
import type { Db, Prisma } from '../db/client.js';
import { newestFirst, toPage } from '../pagination.js';
import { findSuspectPulseIds } from './suspect-deploys.js';
import { PULSE_SELECT } from '../pulses/pulse-queries.js';
import { SEVERITIES } from '../rules/rule-set.js';

/**
 * Reads of incidents for the REST API and the web UI: one filter, one query, so both answer
 * the same question the same way.
 */
export const INCIDENT_STATUSES = ['triggered', 'acknowledged', 'resolved'] as const;

/** What incident lists filter by (REST: `?status=&serviceId=&appName=&severity=`). */
export const IncidentFilterSchema = z.object({
  status: z.enum(INCIDENT_STATUSES).optional(),
  serviceId: z.uuid().optional(),
  appName: z.string().min(1).max(100).optional(),
  severity: z.enum(SEVERITIES).optional(),
});
export type IncidentFilter = z.output<typeof IncidentFilterSchema>;

export const INCIDENT_SELECT = {
  id: true,
  number: true,
  title: true,
  status: true,
  severity: true,
  dedupKey: true,
  appName: true,
  entity: true,
  alertCount: true,
  suppressed: true,
  maintenanceWindowId: true,
  triggeredAt: true,
  createdAt: true,
  updatedAt: true,
  acknowledgedAt: true,
  acknowledgedBy: true,
  resolvedAt: true,
  resolvedBy: true,
  services: { select: { serviceId: true, service: { select: { name: true } } }, orderBy: { service: { name: 'asc' } } },
} as const satisfies Prisma.IncidentSelect;

export type IncidentRow = Prisma.IncidentGetPayload<{ select: typeof INCIDENT_SELECT }>;

function incidentWhere(filter: IncidentFilter): Prisma.IncidentWhereInput {
  return {
    status: filter.status,
    appName: filter.appName,
    severity: filter.severity,
    ...(filter.serviceId && { services: { some: { serviceId: filter.serviceId } } }),
  };
}

/** Incidents newest first (by creation), keyset-paginated on (created_at, id). */
export async function listIncidents(db: Db, filter: IncidentFilter & { limit: number; cursor?: string | undefined }) {
  const page = newestFirst('createdAt', filter);
  const rows = await db.incident.findMany({ select: INCIDENT_SELECT, where: { ...incidentWhere(filter), ...page.where }, orderBy: page.orderBy, take: page.take });
  return toPage(rows, filter.limit, (row) => ({ at: row.createdAt, id: row.id }));
}

export async function findIncident(db: Db, id: string): Promise<IncidentRow | null> {
  return db.incident.findUnique({ where: { id }, select: INCIDENT_SELECT });
}

/** How many incidents are in each status. */
export async function countIncidentsByStatus(db: Db): Promise<Record<(typeof INCIDENT_STATUSES)[number], number>> {
  const counts = await db.incident.groupBy({ by: ['status'], _count: { _all: true } });
  const countOf = (status: string) => counts.find((c) => c.status === status)?._count._all ?? 0;
  return { triggered: countOf('triggered'), acknowledged: countOf('acknowledged'), resolved: countOf('resolved') };
}

/** An incident's timeline, oldest first. */
export async function incidentTimeline(db: Db, incidentId: string) {
  return db.timelineEntry.findMany({ where: { incidentId }, orderBy: [{ at: 'asc' }, { seq: 'asc' }], select: { at: true, kind: true, message: true, actor: true, data: true } });
}

/** The incident's suspect deploys, most likely first (see findSuspectPulseIds). */
export async function incidentSuspectPulses(db: Db, incident: IncidentRow, limit: number) {
  const ids = await findSuspectPulseIds(db, { appName: incident.appName, triggeredAt: incident.triggeredAt, serviceIds: incident.services.map((link) => link.serviceId) }, limit);
  if (ids.length === 0) return [];
  const pulses = await db.pulse.findMany({ select: PULSE_SELECT, where: { id: { in: ids } } });
  return pulses.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
}

/** Where the incident's Slack messages were posted. */
export async function incidentSlackPosts(db: Db, incidentId: string) {
  return db.slackMessage.findMany({ where: { incidentId, ts: { not: null } }, select: { target: true, channel: true, ts: true, status: true, error: true } });
}

/** A service's open incidents (triggered or acknowledged), newest first. */
export async function openIncidentsOfService(db: Db, serviceId: string, limit: number): Promise<IncidentRow[]> {
  return db.incident.findMany({
    select: INCIDENT_SELECT,
    where: { status: { not: 'resolved' }, services: { some: { serviceId } } },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: limit,
  });
}
