import { z } from 'zod';
import {
  AppError,
  encryptSecret,
  generateWebhookSecret,
  newestFirst,
  toPage,
  type IntegrationDirectory,
  type PrismaClient,
  type Prisma,
} from '@pulsebridge/core';
import { IdParamsSchema, PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';
import { HerokuAppNameSchema } from './services.js';

const MonitoredAppsSchema = z
  .array(HerokuAppNameSchema)
  .max(500)
  .transform((values) => [...new Set(values)]);

const CreateIntegrationSchema = z.object({
  name: z.string().trim().min(1).max(100),
  monitoredApps: MonitoredAppsSchema,
  apiToken: z.string().trim().min(1).max(1000).optional(),
});

const UpdateIntegrationSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    monitoredApps: MonitoredAppsSchema,
    apiToken: z.string().trim().min(1).max(1000).nullable(),
  })
  .partial()
  .refine((value) => Object.keys(value).length > 0, { error: 'name at least one field to change' });

const ManagedWebhookSchema = z.object({ appName: z.string(), webhookId: z.string().nullable(), state: z.string(), error: z.string().nullable() });

export const IntegrationSchema = z.object({
  id: z.string(),
  name: z.string(),
  monitoredApps: z.array(z.string()),
  webhookUrl: z.string(),
  status: z.enum(['active', 'disconnected']),
  statusReason: z.string().nullable(),
  hasApiToken: z.boolean(),
  managedWebhooks: z.array(ManagedWebhookSchema),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** Create and rotate-secret answers: the only times the secret is shown. */
const IntegrationWithSecretSchema = IntegrationSchema.extend({ secret: z.string() });

const SELECT = {
  id: true,
  name: true,
  monitoredApps: true,
  status: true,
  statusReason: true,
  apiTokenCiphertext: true,
  createdAt: true,
  updatedAt: true,
  managedWebhooks: { select: { appName: true, webhookId: true, state: true, error: true }, orderBy: { appName: 'asc' } },
} as const satisfies Prisma.HerokuIntegrationSelect;

type IntegrationRow = Prisma.HerokuIntegrationGetPayload<{ select: typeof SELECT }>;

export function registerIntegrationRoutes(
  routes: RouteTable,
  deps: { prisma: PrismaClient; secretKey: Buffer; publicUrl: string; integrations: IntegrationDirectory },
) {
  const present = (row: IntegrationRow) => ({
    id: row.id,
    name: row.name,
    monitoredApps: row.monitoredApps,
    webhookUrl: `${deps.publicUrl}/webhooks/heroku/${row.id}`,
    status: row.status,
    statusReason: row.statusReason,
    hasApiToken: row.apiTokenCiphertext !== null,
    managedWebhooks: row.managedWebhooks,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  });
  const notFound = () => new AppError('not_found', 'no Heroku integration has this id');
  const find = async (id: string) => {
    const row = await deps.prisma.herokuIntegration.findUnique({ where: { id }, select: SELECT });
    if (!row) throw notFound();
    return row;
  };

  routes.add({
    method: 'post',
    path: '/api/v1/integrations/heroku',
    summary: 'Connect a Heroku account: returns the webhook URL and signing secret (shown only here)',
    tag: 'integrations',
    role: 'admin',
    body: CreateIntegrationSchema,
    responses: { 201: { description: 'created', schema: IntegrationWithSecretSchema } },
    handler: async ({ body }) => {
      const secret = generateWebhookSecret();
      const row = await deps.prisma.herokuIntegration.create({
        data: {
          name: body.name,
          monitoredApps: body.monitoredApps,
          secretCiphertext: encryptSecret(deps.secretKey, secret),
          apiTokenCiphertext: body.apiToken === undefined ? null : encryptSecret(deps.secretKey, body.apiToken),
        },
        select: SELECT,
      });
      return { status: 201, body: { ...present(row), secret } };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/integrations/heroku',
    summary: 'List Heroku integrations, newest first',
    tag: 'integrations',
    role: 'admin',
    query: PageQuerySchema,
    responses: { 200: { description: 'a page of integrations', schema: pageOf(IntegrationSchema) } },
    handler: async ({ query }) => {
      const rows = await deps.prisma.herokuIntegration.findMany({ select: SELECT, ...newestFirst('createdAt', query) });
      const page = toPage(rows, query.limit, (row) => ({ at: row.createdAt, id: row.id }));
      return { status: 200, body: { items: page.items.map(present), nextCursor: page.nextCursor } };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/integrations/heroku/:id',
    summary: 'Show a Heroku integration (without its secret or token)',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 200: { description: 'the integration', schema: IntegrationSchema }, 404: { description: 'unknown integration' } },
    handler: async ({ params }) => ({ status: 200, body: present(await find(params.id)) }),
  });

  routes.add({
    method: 'patch',
    path: '/api/v1/integrations/heroku/:id',
    summary: 'Change an integration: name, monitored apps, API token (null removes it)',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    body: UpdateIntegrationSchema,
    responses: { 200: { description: 'the changed integration', schema: IntegrationSchema }, 404: { description: 'unknown integration' } },
    handler: async ({ params, body }) => {
      await find(params.id);
      const row = await deps.prisma.herokuIntegration.update({
        where: { id: params.id },
        data: {
          name: body.name,
          monitoredApps: body.monitoredApps,
          ...(body.apiToken !== undefined && { apiTokenCiphertext: body.apiToken === null ? null : encryptSecret(deps.secretKey, body.apiToken) }),
        },
        select: SELECT,
      });
      deps.integrations.invalidate(params.id);
      return { status: 200, body: present(row) };
    },
  });

  routes.add({
    method: 'post',
    path: '/api/v1/integrations/heroku/:id/rotate-secret',
    summary: 'Replace the webhook signing secret; deliveries signed with the old one are refused',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 200: { description: 'the integration with its new secret', schema: IntegrationWithSecretSchema }, 404: { description: 'unknown integration' } },
    handler: async ({ params }) => {
      await find(params.id);
      const secret = generateWebhookSecret();
      const row = await deps.prisma.herokuIntegration.update({
        where: { id: params.id },
        data: { secretCiphertext: encryptSecret(deps.secretKey, secret) },
        select: SELECT,
      });
      deps.integrations.invalidate(params.id);
      return { status: 200, body: { ...present(row), secret } };
    },
  });

  routes.add({
    method: 'delete',
    path: '/api/v1/integrations/heroku/:id',
    summary: 'Delete an integration; its archived events stay',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 204: { description: 'deleted' }, 404: { description: 'unknown integration' } },
    handler: async ({ params }) => {
      const { count } = await deps.prisma.herokuIntegration.deleteMany({ where: { id: params.id } });
      if (count === 0) throw notFound();
      deps.integrations.invalidate(params.id);
      return { status: 204 };
    },
  });
}
