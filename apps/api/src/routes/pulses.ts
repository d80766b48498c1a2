import { z } from 'zod';
import { PULSE_KINDS, PulseFilterSchema, isoDate, linkedPulseIds, listPulses, type PrismaClient, type PulseRow } from '@pulsebridge/core';
import { PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';

export const PulseSchema = z.object({
  id: z.string(),
  kind: z.enum(PULSE_KINDS),
  summary: z.string(),
  appName: z.string().nullable(),
  serviceIds: z.array(z.string()),
  status: z.string().nullable(),
  version: z.string().nullable(),
  commitSha: z.string().nullable(),
  actorEmail: z.string().nullable(),
  externalId: z.string().nullable(),
  /** The build and release of one deploy share it (the release id). */
  correlationId: z.string().nullable(),
  /** Other pulses of the same deploy: the build of a release, the release of a build. */
  linkedPulseIds: z.array(z.string()),
  /** The time is null when the database holds one that cannot be read (see `isoDate`). */
  occurredAt: z.string().nullable(),
  data: z.unknown(),
});

/** Pulses as the API shows them, each with the other pulses of the same deploy. */
export async function presentPulses(prisma: PrismaClient, rows: PulseRow[]) {
  const linked = await linkedPulseIds(prisma, rows);
  return rows.map(({ services, ...row }) => ({
    ...row,
    serviceIds: services.map((link) => link.serviceId),
    linkedPulseIds: linked.get(row.id) ?? [],
    occurredAt: isoDate(row.occurredAt),
  }));
}

export function registerPulseRoutes(routes: RouteTable, deps: { prisma: PrismaClient }) {
  routes.add({
    method: 'get',
    path: '/api/v1/pulses',
    summary: 'Deployment pulses (builds, releases, deploys), newest first',
    tag: 'pulses',
    role: 'responder',
    query: PageQuerySchema.extend(PulseFilterSchema.shape),
    responses: { 200: { description: 'a page of pulses', schema: pageOf(PulseSchema) } },
    handler: async ({ query }) => {
      const result = await listPulses(deps.prisma, query);
      return { status: 200, body: { items: await presentPulses(deps.prisma, result.items), nextCursor: result.nextCursor } };
    },
  });
}
