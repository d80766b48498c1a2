import { z } from 'zod';
import { AppError, Prisma, TEST_APP_PREFIX, claimServiceHistory, isTestAppName, isoDate, toPage, newestFirst, type PrismaClient } from '@pulsebridge/core';
import { IdParamsSchema, PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';

/**
 * A Heroku app name as events carry it. Matching is exact (case-sensitive), so names are kept
 * as given; only blank names, control characters and test events' own names (`test:...`) are refused.
 */
export const HerokuAppNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(100)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/, { error: 'must not contain control characters' })
  .refine((name) => !isTestAppName(name), { error: `must not start with ${TEST_APP_PREFIX} (test events' apps)` });
/** A channel id (C0123ABC) or a name (#ops or ops). */
export const SlackChannelSchema = z.string().trim().min(1).max(80).regex(/^#?[A-Za-z0-9._-]+$/, { error: 'is not a Slack channel id or name' });

const unique = <T extends z.ZodType<string>>(item: T) => z.array(item).max(200).transform((values) => [...new Set(values)]);

const ServiceFieldsSchema = z.object({
  name: z.string().trim().min(1).max(100),
  herokuAppNames: unique(HerokuAppNameSchema),
  slackChannels: unique(SlackChannelSchema),
  /** Whether deployment pulses of the service's apps go to its channels (incidents always do). */
  postPulses: z.boolean(),
});

// Defaults only on create: a PATCH that omits a field must leave it alone.
const CreateServiceSchema = ServiceFieldsSchema.extend({
  herokuAppNames: ServiceFieldsSchema.shape.herokuAppNames.default([]),
  slackChannels: ServiceFieldsSchema.shape.slackChannels.default([]),
  postPulses: ServiceFieldsSchema.shape.postPulses.default(true),
});

const UpdateServiceSchema = ServiceFieldsSchema.partial().refine((value) => Object.keys(value).length > 0, { error: 'name at least one field to change' });

export const ServiceSchema = z.object({
  id: z.string(),
  name: z.string(),
  herokuAppNames: z.array(z.string()),
  slackChannels: z.array(z.string()),
  postPulses: z.boolean(),
  /** Times are null when the database holds one that cannot be read (see `isoDate`). */
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
});

const SELECT = { id: true, name: true, herokuAppNames: true, slackChannels: true, postPulses: true, createdAt: true, updatedAt: true } as const;
type ServiceRow = Prisma.ServiceGetPayload<{ select: typeof SELECT }>;

const present = (row: ServiceRow) => ({ ...row, createdAt: isoDate(row.createdAt), updatedAt: isoDate(row.updatedAt) });

function uniqueName(error: unknown, name: string | undefined): never {
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
    throw new AppError('conflict', `a service named ${JSON.stringify(name)} already exists`);
  }
  throw error;
}

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
      const row = await deps.prisma
        .$transaction(async (tx) => {
          const created = await tx.service.create({ data: body, select: SELECT });
          await claimServiceHistory(tx, created.id, created.herokuAppNames);
          return created;
        })
        .catch((error: unknown) => uniqueName(error, body.name));
      return { status: 201, body: present(row) };
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
      const rows = await deps.prisma.service.findMany({ select: SELECT, ...newestFirst('createdAt', query) });
      const page = toPage(rows, query.limit, (row) => ({ at: row.createdAt, id: row.id }));
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
      const row = await deps.prisma.service.findUnique({ where: { id: params.id }, select: SELECT });
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
      const row = await deps.prisma
        .$transaction(async (tx) => {
          const updated = await tx.service.update({ where: { id: params.id }, data: body, select: SELECT });
          if (body.herokuAppNames !== undefined) await claimServiceHistory(tx, updated.id, updated.herokuAppNames);
          return updated;
        })
        .catch((error: unknown) => {
          if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') throw notFound();
          return uniqueName(error, body.name);
        });
      return { status: 200, body: present(row) };
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
      const { count } = await deps.prisma.service.deleteMany({ where: { id: params.id } });
      if (count === 0) throw notFound();
      return { status: 204 };
    },
  });
}
