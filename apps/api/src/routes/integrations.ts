import { z } from 'zod';
import {
  AppError,
  CreateIntegrationSchema,
  HerokuApiError,
  UpdateIntegrationSchema,
  createIntegrationOps,
  requestOAuthToken,
  storeOAuthTokens,
  verifyOAuthState,
  type IntegrationDeps,
  type IntegrationOps,
} from '@pulsebridge/core';
import { IdParamsSchema, PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';

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
  /** One log drain URL per monitored app, with its secret token in the path (`heroku drains:add URL -a APP`). */
  drainUrls: z.array(z.object({ appName: z.string(), url: z.string() })),
  status: z.enum(['active', 'disconnected']),
  statusReason: z.string().nullable(),
  /** How pulsebridge reaches Heroku for this integration (managed webhooks, run command). */
  connection: z.enum(['oauth', 'api_token', 'none']),
  hasApiToken: z.boolean(),
  managedWebhooks: z.array(ManagedWebhookSchema),
  /** With an API token or OAuth: per monitored app, the log drain pulsebridge keeps on it. */
  managedDrains: z.array(z.object({ appName: z.string(), drainId: z.string().nullable(), status: z.enum(['pending', 'active', 'failed', 'deleting']), error: z.string().nullable() })),
  /** Times are null when the database holds one that cannot be read (see `isoDate`). */
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
});

/** Create and rotate-secret answers: the only times the secret is shown. */
const IntegrationWithSecretSchema = IntegrationSchema.extend({ secret: z.string() });

export function registerIntegrationRoutes(routes: RouteTable, deps: IntegrationDeps, ops: IntegrationOps = createIntegrationOps(deps)) {
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
      const page = await ops.list(query);
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
    path: '/api/v1/integrations/heroku/:id/rotate-drain-urls',
    summary: 'Give every monitored app a new drain URL (managed drains are replaced); batches sent to the old URLs are refused',
    tag: 'integrations',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 200: { description: 'the integration with its new drainUrls', schema: IntegrationSchema }, 404: { description: 'unknown integration' } },
    handler: async ({ params }) => ({ status: 200, body: await ops.rotateDrainUrls(params.id) }),
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
  deps: IntegrationDeps,
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
