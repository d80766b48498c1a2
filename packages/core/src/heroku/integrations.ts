import { z } from 'zod';
import type pg from 'pg';
import type { Config } from '../config.js';
import { decryptSecret, encryptSecret, generateWebhookSecret } from '../crypto.js';
import { isoDate } from '../dates.js';
import type { Prisma, PrismaClient } from '../db/client.js';
import { AppError } from '../errors.js';
import type { IntegrationDirectory } from '../ingest/integration-directory.js';
import { newestFirst, toPage } from '../pagination.js';
import { HerokuAppNameSchema } from '../services/service-store.js';
import { integrationTokenSource } from './integration-credentials.js';
import { deleteManagedWebhooks, rotateManagedWebhookSecrets, syncManagedWebhooks } from './managed-webhooks.js';
import { deleteManagedDrains, syncManagedDrains } from './managed-drains.js';
import { signOAuthState } from './oauth-state.js';
import { drainUrls } from '../drains/drain-urls.js';
import { HerokuApiError, HerokuClient } from './platform-client.js';

/**
 * Heroku integrations: what creating or changing one accepts, and what can be done with them
 * (create, change, sync managed webhooks, rotate the secret, delete, start OAuth), for the REST
 * API and the web UI alike.
 */
const MonitoredAppsSchema = z
  .array(HerokuAppNameSchema)
  .max(500)
  .transform((values) => [...new Set(values)]);

export const CreateIntegrationSchema = z.object({
  name: z.string().trim().min(1).max(100),
  monitoredApps: MonitoredAppsSchema,
  apiToken: z.string().trim().min(1).max(1000).optional(),
});

export const UpdateIntegrationSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    monitoredApps: MonitoredAppsSchema,
    apiToken: z.string().trim().min(1).max(1000).nullable(),
  })
  .partial()
  .refine((value) => Object.keys(value).length > 0, { error: 'name at least one field to change' });

export const INTEGRATION_SELECT = {
  id: true,
  name: true,
  monitoredApps: true,
  status: true,
  statusReason: true,
  apiTokenCiphertext: true,
  oauthRefreshTokenCiphertext: true,
  secretCiphertext: true,
  drainSalt: true,
  createdAt: true,
  updatedAt: true,
  managedWebhooks: { select: { appName: true, webhookId: true, state: true, error: true }, orderBy: { appName: 'asc' } },
  managedDrains: { select: { appName: true, drainId: true, state: true, error: true }, orderBy: { appName: 'asc' } },
} as const satisfies Prisma.HerokuIntegrationSelect;

export type IntegrationRow = Prisma.HerokuIntegrationGetPayload<{ select: typeof INTEGRATION_SELECT }>;

export interface IntegrationDeps {
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
export function createIntegrationOps(deps: IntegrationDeps) {
  const webhookUrl = (id: string) => `${deps.publicUrl}/webhooks/heroku/${id}`;
  const present = (row: IntegrationRow) => ({
    id: row.id,
    name: row.name,
    monitoredApps: row.monitoredApps,
    webhookUrl: webhookUrl(row.id),
    drainUrls: drainUrls(deps.publicUrl, deps.secretKey, row),
    status: row.status,
    statusReason: row.statusReason,
    connection: row.oauthRefreshTokenCiphertext !== null ? ('oauth' as const) : row.apiTokenCiphertext !== null ? ('api_token' as const) : ('none' as const),
    hasApiToken: row.apiTokenCiphertext !== null,
    managedWebhooks: row.managedWebhooks,
    managedDrains: row.managedDrains.map((drain) => ({ appName: drain.appName, drainId: drain.drainId, status: drain.state, error: drain.error })),
    createdAt: isoDate(row.createdAt),
    updatedAt: isoDate(row.updatedAt),
  });
  const notFound = () => new AppError('not_found', 'no Heroku integration has this id');
  const find = async (id: string) => {
    const row = await deps.prisma.herokuIntegration.findUnique({ where: { id }, select: INTEGRATION_SELECT });
    if (!row) throw notFound();
    return row;
  };
  const canReachHeroku = (row: IntegrationRow) => row.apiTokenCiphertext !== null || row.oauthRefreshTokenCiphertext !== null;
  const herokuClient = (integrationId: string) =>
    new HerokuClient({
      apiUrl: deps.heroku.apiUrl,
      tokens: integrationTokenSource({ pool: deps.pool, secretKey: deps.secretKey, oauth: { idUrl: deps.heroku.idUrl, clientId: deps.heroku.oauthId, clientSecret: deps.heroku.oauthSecret } }, integrationId),
    });
  /** Creates, adopts and deletes webhooks and log drains so every monitored app has exactly one of each. */
  const syncWebhooks = async (row: IntegrationRow) => {
    if (!canReachHeroku(row)) return;
    const client = herokuClient(row.id);
    await syncManagedWebhooks(deps.prisma, client, {
      integrationId: row.id,
      monitoredApps: row.monitoredApps,
      webhookUrl: webhookUrl(row.id),
      secret: decryptSecret(deps.secretKey, row.secretCiphertext),
      include: deps.webhookInclude,
    });
    await syncManagedDrains(deps.prisma, client, { integrationId: row.id, drains: drainUrls(deps.publicUrl, deps.secretKey, row) });
  };

  return {
    present,
    find,
    webhookUrl,
    /** Integrations newest first, keyset-paginated on (created_at, id). */
    async list(page: { limit: number; cursor?: string | undefined }) {
      const rows = await deps.prisma.herokuIntegration.findMany({ select: INTEGRATION_SELECT, ...newestFirst('createdAt', page) });
      return toPage(rows, page.limit, (row) => ({ at: row.createdAt, id: row.id }));
    },
    async create(input: { name: string; monitoredApps: string[]; apiToken?: string | undefined }) {
      const secret = generateWebhookSecret();
      const created = await deps.prisma.herokuIntegration.create({
        data: {
          name: input.name,
          monitoredApps: input.monitoredApps,
          secretCiphertext: encryptSecret(deps.secretKey, secret),
          apiTokenCiphertext: input.apiToken === undefined ? null : encryptSecret(deps.secretKey, input.apiToken),
        },
        select: INTEGRATION_SELECT,
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
        select: INTEGRATION_SELECT,
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
    /** A new drain salt, so new drain URLs; managed drains are replaced (the old URLs are refused at once). */
    async rotateDrainUrls(id: string) {
      await find(id);
      await deps.pool.query('UPDATE heroku_integrations SET drain_salt = gen_random_uuid()::text, updated_at = now() WHERE id = $1', [id]);
      deps.integrations.invalidate(id);
      const row = await find(id);
      // Each managed drain is replaced by one to its new URL (added first, so no batch is lost).
      if (canReachHeroku(row) && row.managedDrains.length > 0) await syncManagedDrains(deps.prisma, herokuClient(id), { integrationId: id, drains: drainUrls(deps.publicUrl, deps.secretKey, row) });
      return present(await find(id));
    },
    async remove(id: string) {
      const row = await find(id);
      if (canReachHeroku(row) && (row.managedWebhooks.length > 0 || row.managedDrains.length > 0)) {
        const client = herokuClient(row.id);
        // Drains first: if Heroku refuses one, the integration is kept with its webhooks, still working.
        for (const [what, remove] of [
          ['log drain', () => deleteManagedDrains(deps.prisma, client, row.id)],
          ['webhook', () => deleteManagedWebhooks(deps.prisma, client, row.id)],
        ] as const) {
          try {
            await remove();
          } catch (error) {
            const why = error instanceof HerokuApiError ? error.describe() : (error as Error).message;
            throw new AppError('upstream_failed', `could not delete a managed ${what} on Heroku (${why}); the integration is kept, try again`);
          }
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

/** Every app some integration monitors. */
export async function monitoredAppNames(db: Pick<PrismaClient, 'herokuIntegration'>): Promise<Set<string>> {
  const rows = await db.herokuIntegration.findMany({ select: { monitoredApps: true } });
  return new Set(rows.flatMap((row) => row.monitoredApps));
}
