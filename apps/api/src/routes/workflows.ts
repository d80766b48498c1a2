import { z } from 'zod';
import { isoDate, listWorkflowRuns, type PrismaClient, type WorkflowSet } from '@pulsebridge/core';
import { PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';

const WorkflowRunSchema = z.object({
  id: z.string(),
  workflow: z.string(),
  trigger: z.string(),
  incidentId: z.string().nullable(),
  pulseId: z.string().nullable(),
  appName: z.string().nullable(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'skipped']),
  /** Why a run was skipped (a cool-down). */
  skippedReason: z.string().nullable(),
  /** Per action, in order: `{action, status, startedAt, finishedAt, ms, attempts, result?, error?, runId?}` (`runId`: its action run). */
  actions: z.array(z.record(z.string(), z.unknown())),
  error: z.string().nullable(),
  createdAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});

const WorkflowRunFilterSchema = z.object({
  incidentId: z.uuid({ error: 'must be a UUID' }).optional(),
  pulseId: z.uuid({ error: 'must be a UUID' }).optional(),
  workflow: z.string().min(1).max(100).optional(),
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'skipped']).optional(),
});

/** Workflow runs (responders) and the workflows of `workflows.yaml` as written (admins). */
export function registerWorkflowRoutes(routes: RouteTable, deps: { prisma: PrismaClient; workflows: WorkflowSet }) {
  routes.add({
    method: 'get',
    path: '/api/v1/workflow-runs',
    summary: 'Workflow runs, newest first, each with what its actions did',
    tag: 'workflows',
    role: 'responder',
    query: PageQuerySchema.extend(WorkflowRunFilterSchema.shape),
    responses: { 200: { description: 'a page of workflow runs', schema: pageOf(WorkflowRunSchema) } },
    handler: async ({ query }) => {
      const result = await listWorkflowRuns(deps.prisma, query);
      return {
        status: 200,
        body: {
          items: result.items.map((row) => ({
            ...row,
            status: row.status as z.infer<typeof WorkflowRunSchema>['status'],
            actions: Array.isArray(row.actions) ? (row.actions as Record<string, unknown>[]) : [],
            createdAt: isoDate(row.createdAt),
            startedAt: isoDate(row.startedAt),
            finishedAt: isoDate(row.finishedAt),
          })),
          nextCursor: result.nextCursor,
        },
      };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/workflows',
    summary: 'The workflows of workflows.yaml as written (read-only: change the file and restart)',
    tag: 'workflows',
    role: 'admin',
    responses: { 200: { description: 'the workflows', schema: z.object({ file: z.string(), items: z.array(z.object({ name: z.string(), enabled: z.boolean(), definition: z.unknown() })) }) } },
    handler: async () => ({ status: 200, body: { file: deps.workflows.file, items: deps.workflows.all.map((w) => ({ name: w.name, enabled: w.enabled, definition: w.source })) } }),
  });
}
