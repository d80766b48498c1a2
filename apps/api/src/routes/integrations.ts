import { z } from 'zod';
import type pg from 'pg';
import { AppError, HerokuClient, HerokuApiError, decryptSecret, deleteManagedWebhooks, encryptSecret, generateWebhookSecret, integrationTokenSource, isoDate, newestFirst, requestOAuthToken, rotateManagedWebhookSecrets, signOAuthState, storeOAuthTokens, syncManagedWebhooks, toPage, verifyOAuthState, type Config, type IntegrationDirectory, type PrismaClient, type Prisma, HerokuAppNameSchema } from '@pulsebridge/core';
import { IdParamsSchema, PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';

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

const ManagedWebhookSchema = z.object({
  appName: z.string(),
  webhookId: z.string().nullable(),
  state: z.enum(['pending', 'active', 'failed', 'deleting']),
  error: z.string().nullable(),
});

export const IntegrationSchema = z.object({
  id: z.string(),
  name: z.string(),
  monitoredApps: z.array(z.string()),
  webhookUrl: z.string(),
  status: z.enum(['active', 'disconnected']),
  statusReason: z.string().nullable(),
  /** How pulsebridge reaches Heroku for this integration (managed webhooks, run command). */
  connection: z.enum(['oauth', 'api_token', 'none']),
  hasApiToken: z.boolean(),
  managedWebhooks: z.array(ManagedWebhookSchema),
  /** Times are null when the database holds one that cannot be read (see `isoDate`). */
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
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
  oauthRefreshTokenCiphertext: true,
  secretCiphertext: true,
  createdAt: true,
  updatedAt: true,
  managedWebhooks: { select: { appName: true, webhookId: true, state: true, error: true }, orderBy: { appName: 'asc' } },
} as const satisfies Prisma.HerokuIntegrationSelect;

type IntegrationRow = Prisma.HerokuIntegrationGetPayload<{ select: typeof SELECT }>;

export interface IntegrationRouteDeps {
  prisma: PrismaClient;
  pool: pg.Pool;
  secretKey: Buffer;
  publicUrl: string;
  integrations: IntegrationDirectory;
  heroku: Config['heroku'];
  /** Entities managed webhooks subscribe to (those the rules use). */
  webhookInclude: string[];
}

/** What can be done with integrations, for the REST API and the web UI alike. */
export function createIntegrationOps(deps: IntegrationRouteDeps) {
  const webhookUrl = (id: string) => `${deps.publicUrl}/webhooks/heroku/${id}`;
  const present = (row: IntegrationRow) => ({
    id: row.id,
    name: row.name,
    monitoredApps: row.monitoredApps,
    webhookUrl: webhookUrl(row.id),
    status: row.status,
    statusReason: row.statusReason,
    connection: row.oauthRefreshTokenCiphertext !== null ? ('oauth' as const) : row.apiTokenCiphertext !== null ? ('api_token' as const) : ('none' as const),
    hasApiToken: row.apiTokenCiphertext !== null,
    managedWebhooks: row.managedWebhooks,
    createdAt: isoDate(row.createdAt),
    updatedAt: isoDate(row.updatedAt),
  });
  const notFound = () => new AppError('not_found', 'no Heroku integration has this id');
  const find = async (id: string) => {
    const row = await deps.prisma.herokuIntegration.findUnique({ where: { id }, select: SELECT });
    if (!row) throw notFound();
    return row;
  };
  const canReachHeroku = (row: IntegrationRow) => row.apiTokenCiphertext !== null || row.oauthRefreshTokenCiphertext !== null;
  const herokuClient = (integrationId: string) =>
    new HerokuClient({
      apiUrl: deps.heroku.apiUrl,
      tokens: integrationTokenSource({ pool: deps.pool, secretKey: deps.secretKey, oauth: { idUrl: deps.heroku.idUrl, clientId: deps.heroku.oauthId, clientSecret: deps.heroku.oauthSecret } }, integrationId),
    });
  /** Creates, adopts and deletes webhooks so every monitored app has exactly one. */
  const syncWebhooks = async (row: IntegrationRow) => {
    if (!canReachHeroku(row)) return;
    await syncManagedWebhooks(deps.prisma, herokuClient(row.id), {
      integrationId: row.id,
      monitoredApps: row.monitoredApps,
      webhookUrl: webhookUrl(row.id),
      secret: decryptSecret(deps.secretKey, row.secretCiphertext),
      include: deps.webhookInclude,
    });
  };

  return {
    present,
    find,
    webhookUrl,
    async create(input: { name: string; monitoredApps: string[]; apiToken?: string | undefined }) {
      const secret = generateWebhookSecret();
      const created = await deps.prisma.herokuIntegration.create({
        data: {
          name: input.name,
          monitoredApps: input.monitoredApps,
          secretCiphertext: encryptSecret(deps.secretKey, secret),
          apiTokenCiphertext: input.apiToken === undefined ? null : encryptSecret(deps.secretKey, input.apiToken),
        },
        select: SELECT,
      });
      await syncWebhooks(created);
      return { ...present(await find(created.id)), secret };
    },
    async update(id: string, input: { name?: string | undefined; monitoredApps?: string[] | undefined; apiToken?: string | null | undefined }) {
      await find(id);
      const row = await deps.prisma.herokuIntegration.update({
        where: { id },
        data: {
          name: input.name,
          monitoredApps: input.monitoredApps,
          ...(input.apiToken !== undefined && { apiTokenCiphertext: input.apiToken === null ? null : encryptSecret(deps.secretKey, input.apiToken) }),
        },
        select: SELECT,
      });
      deps.integrations.invalidate(id);
      if (input.monitoredApps !== undefined || input.apiToken) await syncWebhooks(row);
      return present(await find(id));
    },
    async sync(id: string) {
      const row = await find(id);
      if (!canReachHeroku(row)) throw new AppError('conflict', 'the integration has no Heroku API token or OAuth connection');
      await syncWebhooks(row);
      return present(await find(id));
    },
    async rotateSecret(id: string) {
      const before = await find(id);
      const secret = generateWebhookSecret();
      await deps.prisma.herokuIntegration.update({ where: { id }, data: { secretCiphertext: encryptSecret(deps.secretKey, secret) } });
      deps.integrations.invalidate(id);
      if (canReachHeroku(before)) await rotateManagedWebhookSecrets(deps.prisma, herokuClient(id), id, secret);
      return { ...present(await find(id)), secret };
    },
    async remove(id: string) {
      const row = await find(id);
      if (canReachHeroku(row) && row.managedWebhooks.length > 0) {
        try {
          await deleteManagedWebhooks(deps.prisma, herokuClient(row.id), row.id);
        } catch (error) {
          const why = error instanceof HerokuApiError ? error.describe() : (error as Error).message;
          throw new AppError('upstream_failed', `could not delete a managed webhook on Heroku (${why}); the integration is kept, try again`);
        }
      }
      const { count } = await deps.prisma.herokuIntegration.deleteMany({ where: { id } });
      if (count === 0) throw notFound();
      deps.integrations.invalidate(id);
    },
    oauthStartUrl(id: string) {
      if (deps.heroku.oauthId === undefined || deps.heroku.oauthSecret === undefined) throw new AppError('not_found', 'Heroku OAuth is not configured (HEROKU_OAUTH_ID, HEROKU_OAUTH_SECRET)');
      const query = new URLSearchParams({ client_id: deps.heroku.oauthId, response_type: 'code', scope: 'write', state: signOAuthState(deps.secretKey, id) });
      return `${deps.heroku.idUrl}/oauth/authorize?${query}`;
    },
  };
}

export type IntegrationOps = ReturnType<typeof createIntegrationOps>;

export function registerIntegrationRoutes(routes: RouteTable, deps: IntegrationRouteDeps, ops: IntegrationOps = createIntegrationOps(deps)) {
  routes.add({
    method: 'post',
    path: '/api/v1/integrations/heroku',
    summary: 'Connect a Heroku account: returns the webhook URL and signing secret (shown only here); with an apiToken, creates a webhook on every monitored app',
    tag: 'integrations',
    role: 'admin',
    body: CreateIntegrationSchema,
    responses: { 201: { description: 'created; managedWebhooks says per app whether its webhook was created', schema: IntegrationWithSecretSchema } },
    handler: async ({ body }) => ({ status: 201, body: await ops.create(body) }),
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
      return { status: 200, body: { items: page.items.map(ops.present), nextCursor: page.nextCursor } };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/integrations/heroku/:id',
    summary: 'Show a Heroku integration with its managed webhooks (never its secret or tokens)',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 200: { description: 'the integration', schema: IntegrationSchema }, 404: { description: 'unknown integration' } },
    handler: async ({ params }) => ({ status: 200, body: ops.present(await ops.find(params.id)) }),
  });

  routes.add({
    method: 'patch',
    path: '/api/v1/integrations/heroku/:id',
    summary: 'Change an integration: name, monitored apps (webhooks are added and removed to match), API token (null removes it)',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    body: UpdateIntegrationSchema,
    responses: { 200: { description: 'the changed integration', schema: IntegrationSchema }, 404: { description: 'unknown integration' } },
    handler: async ({ params, body }) => ({ status: 200, body: await ops.update(params.id, body) }),
  });

  routes.add({
    method: 'post',
    path: '/api/v1/integrations/heroku/:id/sync-webhooks',
    summary: 'Try again to create the managed webhooks that failed (after granting access, say)',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 200: { description: 'the integration', schema: IntegrationSchema }, 404: { description: 'unknown integration' } },
    handler: async ({ params }) => ({ status: 200, body: await ops.sync(params.id) }),
  });

  routes.add({
    method: 'post',
    path: '/api/v1/integrations/heroku/:id/rotate-secret',
    summary: 'Replace the webhook signing secret (managed webhooks are updated); deliveries signed with the old one are refused',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 200: { description: 'the integration with its new secret', schema: IntegrationWithSecretSchema }, 404: { description: 'unknown integration' } },
    handler: async ({ params }) => ({ status: 200, body: await ops.rotateSecret(params.id) }),
  });

  routes.add({
    method: 'delete',
    path: '/api/v1/integrations/heroku/:id',
    summary: 'Delete an integration after deleting every managed webhook; its archived events stay',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 204: { description: 'deleted' }, 404: { description: 'unknown integration' }, 502: { description: 'Heroku refused to delete a webhook; nothing else was deleted' } },
    handler: async ({ params }) => {
      await ops.remove(params.id);
      return { status: 204 };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/integrations/heroku/:id/oauth/start',
    summary: 'Connect with Heroku OAuth: redirects to Heroku to authorize pulsebridge',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 302: { description: 'to Heroku’s authorize page' }, 404: { description: 'unknown integration, or OAuth is not configured' } },
    handler: async ({ params }) => {
      const url = ops.oauthStartUrl(params.id);
      await ops.find(params.id);
      return { status: 302, redirect: url };
    },
  });
}

/**
 * `GET /oauth/heroku/callback`: Heroku sends the browser back here with `code` and our signed
 * `state`. Exchanges the code, stores the tokens encrypted, and creates the managed webhooks.
 */
export async function completeHerokuOAuth(
  deps: IntegrationRouteDeps,
  ops: IntegrationOps,
  query: { code?: unknown; state?: unknown; error?: unknown },
): Promise<{ status: number; body: unknown }> {
  const fail = (status: number, code: string, message: string) => ({ status, body: { error: { code, message } } });
  if (typeof query.error === 'string') return fail(400, 'oauth_denied', `Heroku did not authorize pulsebridge: ${query.error}`);
  if (typeof query.code !== 'string' || typeof query.state !== 'string') return fail(400, 'bad_request', 'expected `code` and `state` from Heroku');
  const integrationId = verifyOAuthState(deps.secretKey, query.state);
  if (integrationId === null) return fail(400, 'invalid_state', 'the authorization link is invalid or has expired; start again');
  try {
    const tokens = await requestOAuthToken({ idUrl: deps.heroku.idUrl, clientId: deps.heroku.oauthId, clientSecret: deps.heroku.oauthSecret }, { grant_type: 'authorization_code', code: query.code });
    await storeOAuthTokens(deps.pool, deps.secretKey, integrationId, tokens);
  } catch (error) {
    return fail(502, 'oauth_failed', `Heroku did not accept the authorization code: ${error instanceof HerokuApiError ? error.describe() : (error as Error).message}`);
  }
  try {
    const integration = await ops.sync(integrationId);
    return { status: 200, body: { id: integrationId, status: 'connected', connection: 'oauth', managedWebhooks: integration.managedWebhooks } };
  } catch (error) {
    if (error instanceof AppError && error.code === 'not_found') return fail(404, 'not_found', 'the integration was deleted meanwhile');
    throw error;
  }
}
