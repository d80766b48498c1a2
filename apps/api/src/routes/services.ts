import { z } from 'zod';
import {
  AppError,
  SEVERITIES,
  CreateServiceSchema,
  UpdateServiceSchema,
  createService,
  deleteService,
  findService,
  isoDate,
  listServices,
  updateService,
  type PrismaClient,
  type ServiceRow,
} from '@pulsebridge/core';
import { IdParamsSchema, PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';

export const ServiceSchema = z.object({
  id: z.string(),
  name: z.string(),
  herokuAppNames: z.array(z.string()),
  slackChannels: z.array(z.string()),
  postPulses: z.boolean(),
  /** Incidents below this severity stay in the UI (no Slack message). */
  postMinSeverity: z.enum(SEVERITIES),
  /** Times are null when the database holds one that cannot be read (see `isoDate`). */
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
});

const present = (row: ServiceRow) => ({ ...row, createdAt: isoDate(row.createdAt), updatedAt: isoDate(row.updatedAt) });

export function registerServiceRoutes(routes: RouteTable, deps: { prisma: PrismaClient }) {
  const notFound = () => new AppError('not_found', 'no service has this id');

  routes.add({
    method: 'post',
    path: '/api/v1/services',
    summary: "Create a service and map Heroku apps and Slack channels to it (it claims its apps' open incidents and last day's pulses)",
    tag: 'services',
    role: 'admin',
    body: CreateServiceSchema,
    responses: { 201: { description: 'created', schema: ServiceSchema }, 409: { description: 'name taken' } },
    handler: async ({ body }) => {
      const { service } = await createService(deps.prisma, body);
      return { status: 201, body: present(service) };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/services',
    summary: 'List services, newest first (responders read them too)',
    tag: 'services',
    role: 'responder',
    query: PageQuerySchema,
    responses: { 200: { description: 'a page of services', schema: pageOf(ServiceSchema) } },
    handler: async ({ query }) => {
      const page = await listServices(deps.prisma, query);
      return { status: 200, body: { items: page.items.map(present), nextCursor: page.nextCursor } };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/services/:id',
    summary: 'Show a service (responders read it too)',
    tag: 'services',
    role: 'responder',
    params: IdParamsSchema,
    responses: { 200: { description: 'the service', schema: ServiceSchema }, 404: { description: 'unknown service' } },
    handler: async ({ params }) => {
      const row = await findService(deps.prisma, params.id);
      if (!row) throw notFound();
      return { status: 200, body: present(row) };
    },
  });

  routes.add({
    method: 'patch',
    path: '/api/v1/services/:id',
    summary: "Change a service: name, Heroku app names (it claims their open incidents and last day's pulses), Slack channels",
    tag: 'services',
    role: 'admin',
    params: IdParamsSchema,
    body: UpdateServiceSchema,
    responses: { 200: { description: 'the changed service', schema: ServiceSchema }, 404: { description: 'unknown service' }, 409: { description: 'name taken' } },
    handler: async ({ params, body }) => {
      const { service } = await updateService(deps.prisma, params.id, body);
      return { status: 200, body: present(service) };
    },
  });

  routes.add({
    method: 'delete',
    path: '/api/v1/services/:id',
    summary: 'Delete a service (its incidents and pulses stay, unlinked)',
    tag: 'services',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 204: { description: 'deleted' }, 404: { description: 'unknown service' } },
    handler: async ({ params }) => {
      await deleteService(deps.prisma, params.id);
      return { status: 204 };
    },
  });
}
