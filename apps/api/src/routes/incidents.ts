import { z } from 'zod';
import {
  AppError,
  INCIDENT_STATUSES,
  IncidentFilterSchema,
  SEVERITIES,
  changeIncidentStatus,
  findIncident,
  incidentSuspectPulses,
  incidentTimeline,
  isoDate,
  listIncidents,
  type Database,
  type IncidentRow,
} from '@pulsebridge/core';
import { IdParamsSchema, PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';
import { PulseSchema, presentPulses } from './pulses.js';

export const IncidentSchema = z.object({
  id: z.string(),
  number: z.number().int(),
  title: z.string(),
  status: z.enum(INCIDENT_STATUSES),
  severity: z.enum(SEVERITIES),
  dedupKey: z.string(),
  appName: z.string().nullable(),
  entity: z.string(),
  serviceIds: z.array(z.string()),
  alertCount: z.number().int(),
  /** Opened during a maintenance window: not posted or escalated while it lasts. */
  suppressed: z.boolean(),
  maintenanceWindowId: z.string().nullable(),
  /** Times are null when the database holds one that cannot be read (see `isoDate`). */
  triggeredAt: z.string().nullable(),
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
  acknowledgedAt: z.string().nullable(),
  acknowledgedBy: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  resolvedBy: z.string().nullable(),
});

const TimelineEntrySchema = z.object({ at: z.string().nullable(), kind: z.string(), message: z.string(), actor: z.string().nullable(), data: z.unknown() });
const IncidentDetailSchema = IncidentSchema.extend({ timeline: z.array(TimelineEntrySchema), suspectPulses: z.array(PulseSchema) });

function present(row: IncidentRow) {
  const { services, ...rest } = row;
  return {
    ...rest,
    serviceIds: services.map((link) => link.serviceId),
    triggeredAt: isoDate(row.triggeredAt),
    createdAt: isoDate(row.createdAt),
    updatedAt: isoDate(row.updatedAt),
    acknowledgedAt: isoDate(row.acknowledgedAt),
    resolvedAt: isoDate(row.resolvedAt),
  };
}

export function registerIncidentRoutes(routes: RouteTable, deps: { db: Database; onIncidentChanged: (incidentId: string) => Promise<void> }) {
  const { prisma, pool } = deps.db;
  const find = async (id: string) => {
    const row = await findIncident(prisma, id);
    if (!row) throw new AppError('not_found', 'no incident has this id');
    return row;
  };

  routes.add({
    method: 'get',
    path: '/api/v1/incidents',
    summary: 'List incidents, newest first, filtered by status, service, app and severity',
    tag: 'incidents',
    role: 'responder',
    query: PageQuerySchema.extend(IncidentFilterSchema.shape),
    responses: { 200: { description: 'a page of incidents', schema: pageOf(IncidentSchema) } },
    handler: async ({ query }) => {
      const result = await listIncidents(prisma, query);
      return { status: 200, body: { items: result.items.map(present), nextCursor: result.nextCursor } };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/incidents/:id',
    summary: 'One incident with its timeline and suspect deploys (releases and deploys of its app or services in the hour before it that went out, each release with the build that produced it)',
    tag: 'incidents',
    role: 'responder',
    params: IdParamsSchema,
    responses: { 200: { description: 'the incident', schema: IncidentDetailSchema }, 404: { description: 'unknown incident' } },
    handler: async ({ params }) => {
      const row = await find(params.id);
      const [timeline, suspects] = await Promise.all([incidentTimeline(prisma, row.id), incidentSuspectPulses(prisma, row, 20)]);
      return {
        status: 200,
        body: { ...present(row), timeline: timeline.map((entry) => ({ ...entry, at: isoDate(entry.at) })), suspectPulses: await presentPulses(prisma, suspects) },
      };
    },
  });

  for (const change of ['acknowledge', 'resolve'] as const) {
    routes.add({
      method: 'post',
      path: `/api/v1/incidents/:id/${change}`,
      summary: change === 'acknowledge' ? 'Acknowledge an incident (recorded with who did it)' : 'Resolve an incident (recorded with who did it)',
      tag: 'incidents',
      role: 'responder',
      params: IdParamsSchema,
      responses: {
        200: { description: 'the incident after the change (unchanged if it already was)', schema: IncidentSchema },
        404: { description: 'unknown incident' },
        409: { description: 'a resolved incident cannot be acknowledged' },
      },
      handler: async ({ params, principal }) => {
        const result = await changeIncidentStatus(pool, params.id, change, principal.name);
        if (!result.ok) {
          throw result.reason === 'not_found' ? new AppError('not_found', 'no incident has this id') : new AppError('conflict', 'the incident is already resolved');
        }
        if (result.changed) await deps.onIncidentChanged(params.id);
        return { status: 200, body: present(await find(params.id)) };
      },
    });
  }
}
