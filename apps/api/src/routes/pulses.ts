import { z } from 'zod';
import { REAL_PULSES, isoDate, newestFirst, toPage, type Prisma, type PrismaClient } from '@pulsebridge/core';
import { PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';

export const PulseSchema = z.object({
  id: z.string(),
  kind: z.enum(['build', 'release', 'deploy']),
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

export const PULSE_SELECT = {
  id: true,
  kind: true,
  summary: true,
  appName: true,
  status: true,
  version: true,
  commitSha: true,
  actorEmail: true,
  externalId: true,
  correlationId: true,
  occurredAt: true,
  data: true,
  services: { select: { serviceId: true } },
} as const satisfies Prisma.PulseSelect;

type PulseRow = Prisma.PulseGetPayload<{ select: typeof PULSE_SELECT }>;

/** A pulse as the API shows it, with the other pulses of the same deploy. */
export async function presentPulse(prisma: PrismaClient, row: PulseRow) {
  const [presented] = await presentPulses(prisma, [row]);
  return presented!;
}

async function presentPulses(prisma: PrismaClient, rows: PulseRow[]) {
  const correlationIds = [...new Set(rows.map((row) => row.correlationId).filter((id): id is string => id !== null))];
  const related =
    correlationIds.length === 0 ? [] : await prisma.pulse.findMany({ where: { correlationId: { in: correlationIds } }, select: { id: true, correlationId: true } });
  return rows.map(({ services, ...row }) => ({
    ...row,
    serviceIds: services.map((link) => link.serviceId),
    linkedPulseIds: related.filter((other) => other.correlationId === row.correlationId && other.id !== row.id).map((other) => other.id),
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
    query: PageQuerySchema.extend({
      serviceId: z.uuid().optional(),
      appName: z.string().min(1).max(100).optional(),
      kind: z.enum(['build', 'release', 'deploy']).optional(),
    }),
    responses: { 200: { description: 'a page of pulses', schema: pageOf(PulseSchema) } },
    handler: async ({ query }) => {
      const page = newestFirst('occurredAt', query);
      const rows = await deps.prisma.pulse.findMany({
        select: PULSE_SELECT,
        where: {
          appName: query.appName,
          kind: query.kind,
          // Test events' pulses stay on the integration page.
          AND: [REAL_PULSES],
          ...(query.serviceId && { services: { some: { serviceId: query.serviceId } } }),
          ...page.where,
        },
        orderBy: page.orderBy,
        take: page.take,
      });
      const result = toPage(rows, query.limit, (row) => ({ at: row.occurredAt, id: row.id }));
      return { status: 200, body: { items: await presentPulses(deps.prisma, result.items), nextCursor: result.nextCursor } };
    },
  });
}
