import { z } from 'zod';
import { EscalationPolicySchema, SEVERITIES, deleteEscalationPolicy, findEscalationPolicy, isoDate, putEscalationPolicy, type PrismaClient } from '@pulsebridge/core';
import { IdParamsSchema, type RouteTable } from '../http/route-table.js';

const PolicySchema = z.object({
  minSeverity: z.enum(SEVERITIES),
  levels: z.array(z.object({ targets: z.array(z.string()), delayMinutes: z.number().int() })),
  repeatEveryMinutes: z.number().int().nullable(),
  directMessages: z.boolean(),
  updatedAt: z.string().nullable(),
});

const present = (policy: Awaited<ReturnType<typeof findEscalationPolicy>>) => (policy === null ? null : { ...policy, updatedAt: isoDate(policy.updatedAt) });

/** A service's escalation policy: who is mentioned, level by level, until someone acknowledges. */
export function registerEscalationRoutes(routes: RouteTable, deps: { prisma: PrismaClient }) {
  routes.add({
    method: 'put',
    path: '/api/v1/services/:id/escalation',
    summary: "Set a service's escalation policy: Slack users or user groups (ids) mentioned in the incident's thread, level by level, until someone acknowledges",
    tag: 'services',
    role: 'admin',
    params: IdParamsSchema,
    body: EscalationPolicySchema,
    responses: { 200: { description: 'the policy', schema: PolicySchema }, 404: { description: 'unknown service' } },
    handler: async ({ params, body }) => ({ status: 200, body: present(await putEscalationPolicy(deps.prisma, params.id, body))! }),
  });

  routes.add({
    method: 'get',
    path: '/api/v1/services/:id/escalation',
    summary: "A service's escalation policy (null when it has none)",
    tag: 'services',
    role: 'responder',
    params: IdParamsSchema,
    responses: { 200: { description: 'the policy', schema: PolicySchema.nullable() }, 404: { description: 'unknown service' } },
    handler: async ({ params }) => ({ status: 200, body: present(await findEscalationPolicy(deps.prisma, params.id)) }),
  });

  routes.add({
    method: 'delete',
    path: '/api/v1/services/:id/escalation',
    summary: "Remove a service's escalation policy (its incidents stop escalating)",
    tag: 'services',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 204: { description: 'removed' }, 404: { description: 'unknown service' } },
    handler: async ({ params }) => {
      await deleteEscalationPolicy(deps.prisma, params.id);
      return { status: 204 };
    },
  });
}
