import type { Db } from '../db/client.js';
import { newestFirst, toPage } from '../pagination.js';

export interface WorkflowRunFilter {
  incidentId?: string | undefined;
  pulseId?: string | undefined;
  workflow?: string | undefined;
  status?: string | undefined;
}

/** Workflow runs, newest first, keyset-paginated on (created_at, id). */
export async function listWorkflowRuns(db: Db, filter: WorkflowRunFilter & { limit: number; cursor?: string | undefined }) {
  const { where, ...page } = newestFirst('createdAt', filter);
  const rows = await db.workflowRun.findMany({
    where: {
      ...(filter.incidentId !== undefined && { incidentId: filter.incidentId }),
      ...(filter.pulseId !== undefined && { pulseId: filter.pulseId }),
      ...(filter.workflow !== undefined && { workflow: filter.workflow }),
      ...(filter.status !== undefined && { status: filter.status }),
      ...where,
    },
    ...page,
  });
  return toPage(rows, filter.limit, (row) => ({ at: row.createdAt, id: row.id }));
}

/** The latest workflow runs with their incident's number (the workflows page). */
export async function recentWorkflowRuns(db: Db, limit: number) {
  return db.workflowRun.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: limit, include: { incident: { select: { number: true } } } });
}
