import { z } from 'zod';
import type { Db, Prisma } from '../db/client.js';
import { REAL_PULSES } from '../events/test-events.js';
import { newestFirst, toPage } from '../pagination.js';
import { PULSE_KINDS } from '../rules/rule-set.js';

/**
 * Reads of deployment pulses for the REST API and the web UI: one filter, one query. Test
 * events' pulses are left out (they show on their integration's page only).
 */

/** What pulse lists filter by (REST: `?serviceId=&appName=&kind=`). */
export const PulseFilterSchema = z.object({
  serviceId: z.uuid().optional(),
  appName: z.string().min(1).max(100).optional(),
  kind: z.enum(PULSE_KINDS).optional(),
});
export type PulseFilter = z.output<typeof PulseFilterSchema>;

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
  services: { select: { serviceId: true, service: { select: { name: true } } }, orderBy: { service: { name: 'asc' } } },
} as const satisfies Prisma.PulseSelect;

export type PulseRow = Prisma.PulseGetPayload<{ select: typeof PULSE_SELECT }>;

/** Pulses newest first (by when they happened), keyset-paginated on (occurred_at, id). */
export async function listPulses(db: Db, filter: PulseFilter & { limit: number; cursor?: string | undefined }) {
  const page = newestFirst('occurredAt', filter);
  const rows = await db.pulse.findMany({
    select: PULSE_SELECT,
    where: {
      appName: filter.appName,
      kind: filter.kind,
      AND: [REAL_PULSES],
      ...(filter.serviceId && { services: { some: { serviceId: filter.serviceId } } }),
      ...page.where,
    },
    orderBy: page.orderBy,
    take: page.take,
  });
  return toPage(rows, filter.limit, (row) => ({ at: row.occurredAt, id: row.id }));
}

/** For each pulse, the other pulses of the same deploy (the build of a release, the release of a build). */
export async function linkedPulseIds(db: Db, rows: readonly { id: string; correlationId: string | null }[]): Promise<Map<string, string[]>> {
  const correlationIds = [...new Set(rows.map((row) => row.correlationId).filter((id): id is string => id !== null))];
  const related = correlationIds.length === 0 ? [] : await db.pulse.findMany({ where: { correlationId: { in: correlationIds } }, select: { id: true, correlationId: true } });
  return new Map(rows.map((row) => [row.id, related.filter((other) => other.correlationId === row.correlationId && other.id !== row.id).map((other) => other.id)]));
}
