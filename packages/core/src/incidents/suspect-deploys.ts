import { isReadableDate } from '../dates.js';
import type { Db, Prisma } from '../db/client.js';
import { SUSPECT_WINDOW_MS } from './apply-event.js';

/** Statuses of a release or deploy that never went out. */
export const UNSHIPPED_DEPLOY_STATUSES = ['pending', 'failed', 'expired'];

/**
 * The pulses that may be behind an incident, as `pulsebridge_apply_event` judges its suspect
 * deploy: the deploys (releases and legacy add-on deploy notifications that went out) of its app
 * or services in the hour before it, newest first, each release followed by the succeeded build
 * that produced it. A build is never a suspect on its own: it counts through its release. Ids
 * only, so each caller reads the pulses as it shows them; none when the incident names no app
 * and no service, or when its time is one the database holds out of range.
 */
export async function findSuspectPulseIds(
  prisma: Db,
  incident: { appName: string | null; triggeredAt: Date; serviceIds: string[] },
  limit: number,
): Promise<string[]> {
  const scope: Prisma.PulseWhereInput[] = [
    ...(incident.appName ? [{ appName: incident.appName }] : []),
    ...(incident.serviceIds.length > 0 ? [{ services: { some: { serviceId: { in: incident.serviceIds } } } }] : []),
  ];
  if (scope.length === 0 || !isReadableDate(incident.triggeredAt)) return [];
  const deploys = await prisma.pulse.findMany({
    where: {
      occurredAt: { gte: new Date(incident.triggeredAt.getTime() - SUSPECT_WINDOW_MS), lte: incident.triggeredAt },
      kind: { in: ['release', 'deploy'] },
      AND: [{ OR: scope }, { OR: [{ status: null }, { status: { notIn: UNSHIPPED_DEPLOY_STATUSES } }] }],
    },
    select: { id: true, kind: true, correlationId: true },
    orderBy: [{ occurredAt: 'desc' }, { id: 'desc' }],
    take: limit,
  });
  const releaseIds = [...new Set(deploys.flatMap((pulse) => (pulse.kind === 'release' && pulse.correlationId !== null ? [pulse.correlationId] : [])))];
  const builds =
    releaseIds.length === 0
      ? []
      : await prisma.pulse.findMany({
          where: { kind: 'build', status: 'succeeded', correlationId: { in: releaseIds } },
          select: { id: true, correlationId: true },
          orderBy: [{ occurredAt: 'desc' }, { id: 'desc' }],
        });
  const ids = deploys.flatMap((deploy) => [deploy.id, ...(deploy.kind === 'release' ? builds.filter((build) => build.correlationId === deploy.correlationId).map((build) => build.id) : [])]);
  return [...new Set(ids)];
}
