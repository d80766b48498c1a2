import { z } from 'zod';
import { MaintenanceWindowSchema, createMaintenanceWindow, endMaintenanceWindowNow, findMaintenanceWindow, isoDate, listMaintenanceWindows, type PrismaClient } from '@pulsebridge/core';
import { IdParamsSchema, type RouteTable } from '../http/route-table.js';

const WindowSchema = z.object({
  id: z.string(),
  appNames: z.array(z.string()),
  serviceIds: z.array(z.string()),
  startsAt: z.string().nullable(),
  endsAt: z.string().nullable(),
  onEnd: z.enum(['resolve', 'reraise']),
  createdBy: z.string(),
  createdAt: z.string().nullable(),
  /** When its end was carried out (its suppressed incidents resolved or raised again). */
  endedAt: z.string().nullable(),
});

type WindowRow = Awaited<ReturnType<typeof findMaintenanceWindow>>;
const present = (row: WindowRow) => ({
  ...row,
  onEnd: row.onEnd as 'resolve' | 'reraise',
  startsAt: isoDate(row.startsAt),
  endsAt: isoDate(row.endsAt),
  createdAt: isoDate(row.createdAt),
  endedAt: isoDate(row.endedAt),
});

/** Maintenance windows: incidents opening in one are suppressed (not posted or escalated) until it ends. */
export function registerMaintenanceWindowRoutes(routes: RouteTable, deps: { prisma: PrismaClient }) {
  routes.add({
    method: 'post',
    path: '/api/v1/maintenance-windows',
    summary: 'Open a maintenance window over apps and services (startsAt and endsAt, or minutes from now); onEnd says whether its still-open suppressed incidents are resolved or raised again',
    tag: 'maintenance',
    role: 'responder',
    body: MaintenanceWindowSchema,
    responses: { 201: { description: 'the window', schema: WindowSchema }, 400: { description: 'bad times or scope' }, 409: { description: 'it overlaps another window over the same app or service' } },
    handler: async ({ body, principal }) => ({ status: 201, body: present(await createMaintenanceWindow(deps.prisma, body, principal.name)) }),
  });

  routes.add({
    method: 'get',
    path: '/api/v1/maintenance-windows',
    summary: 'Maintenance windows not yet ended, soonest end first, and those ended in the last day',
    tag: 'maintenance',
    role: 'responder',
    responses: { 200: { description: 'the windows', schema: z.object({ items: z.array(WindowSchema) }) } },
    handler: async () => ({ status: 200, body: { items: (await listMaintenanceWindows(deps.prisma)).map(present) } }),
  });

  routes.add({
    method: 'get',
    path: '/api/v1/maintenance-windows/:id',
    summary: 'A maintenance window',
    tag: 'maintenance',
    role: 'responder',
    params: IdParamsSchema,
    responses: { 200: { description: 'the window', schema: WindowSchema }, 404: { description: 'unknown window' } },
    handler: async ({ params }) => ({ status: 200, body: present(await findMaintenanceWindow(deps.prisma, params.id)) }),
  });

  routes.add({
    method: 'delete',
    path: '/api/v1/maintenance-windows/:id',
    summary: 'End a maintenance window now: its still-open suppressed incidents are resolved or raised again, as it says',
    tag: 'maintenance',
    role: 'responder',
    params: IdParamsSchema,
    responses: { 204: { description: 'ended' }, 404: { description: 'unknown window' } },
    handler: async ({ params }) => {
      await endMaintenanceWindowNow(deps.prisma, params.id);
      return { status: 204 };
    },
  });
}
