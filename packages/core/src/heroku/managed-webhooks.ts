import type { PrismaClient } from '../generated/prisma/client.js';
import { deleteAllManaged, explainHerokuError, syncManaged, type ManagedRemote, type ManagedStore } from './managed-resources.js';
import { HerokuApiError, type HerokuClient } from './platform-client.js';

/** Webhook includes Heroku accepts; rules may name others (legacy add-on events) that are not webhook entities. */
export const HEROKU_WEBHOOK_ENTITIES = [
  'api:addon-attachment',
  'api:addon',
  'api:app',
  'api:build',
  'api:collaborator',
  'api:domain',
  'api:dyno',
  'api:formation',
  'api:release',
  'api:sni-endpoint',
  'api:ssl-endpoint',
  'dyno',
] as const;

/** The includes a managed webhook subscribes to: the webhook entities the rules use. */
export function webhookIncludes(ruleEntities: Iterable<string>): string[] {
  const used = new Set(ruleEntities);
  return HEROKU_WEBHOOK_ENTITIES.filter((entity) => used.has(entity));
}

export interface WebhookSyncTarget {
  integrationId: string;
  monitoredApps: string[];
  webhookUrl: string;
  secret: string;
  include: string[];
}

export interface ManagedWebhookResult {
  appName: string;
  webhookId: string | null;
  state: 'active' | 'failed';
  error: string | null;
}

/** The integration's managed webhook records. */
function webhookStore(prisma: PrismaClient, integrationId: string): ManagedStore {
  return {
    list: async () => (await prisma.managedWebhook.findMany({ where: { integrationId } })).map((row) => ({ id: row.id, appName: row.appName, remoteId: row.webhookId, state: row.state, url: row.url })),
    save: async (result) => {
      const data = { webhookId: result.remoteId, state: result.state, error: result.error, url: result.url };
      await prisma.managedWebhook.upsert({ where: { integrationId_appName: { integrationId, appName: result.appName } }, create: { integrationId, appName: result.appName, ...data }, update: data });
    },
    remove: async (id) => {
      await prisma.managedWebhook.delete({ where: { id } });
    },
    markDeleting: async (id, error) => {
      await prisma.managedWebhook.update({ where: { id }, data: { state: 'deleting', error } });
    },
  };
}

function webhookRemote(client: HerokuClient, target: Omit<WebhookSyncTarget, 'integrationId' | 'monitoredApps'>): ManagedRemote {
  return {
    async create(appName, url) {
      const input = { include: target.include, level: 'sync' as const, url, secret: target.secret };
      try {
        return (await client.createWebhook(appName, input)).id;
      } catch (error) {
        // A webhook with this URL is already there (made by hand, or an earlier attempt whose answer was lost).
        if (!(error instanceof HerokuApiError && error.status === 409)) throw error;
        const found = (await client.listWebhooks(appName)).find((webhook) => webhook.url === url);
        if (!found) throw error;
        return (await client.updateWebhook(appName, found.id, input)).id;
      }
    },
    async move(appName, id, url) {
      return (await client.updateWebhook(appName, id, { url })).id;
    },
    async delete(appName, id) {
      await client.deleteWebhook(appName, id);
    },
  };
}

/**
 * Makes the integration's managed webhooks match its monitored apps (`syncManaged`), adopting a
 * webhook with the same URL already on an app.
 */
export async function syncManagedWebhooks(prisma: PrismaClient, client: HerokuClient, target: WebhookSyncTarget): Promise<ManagedWebhookResult[]> {
  const targets = target.monitoredApps.map((appName) => ({ appName, url: target.webhookUrl }));
  const results = await syncManaged(webhookStore(prisma, target.integrationId), webhookRemote(client, target), targets);
  return results.map(({ remoteId, appName, state, error }) => ({ appName, webhookId: remoteId, state, error }));
}

/** A new secret for every active managed webhook; returns the apps that could not be updated. */
export async function rotateManagedWebhookSecrets(prisma: PrismaClient, client: HerokuClient, integrationId: string, secret: string): Promise<ManagedWebhookResult[]> {
  const rows = await prisma.managedWebhook.findMany({ where: { integrationId, state: 'active' } });
  const results: ManagedWebhookResult[] = [];
  for (const row of rows) {
    try {
      await client.updateWebhook(row.appName, row.webhookId!, { secret });
      results.push({ appName: row.appName, webhookId: row.webhookId, state: 'active', error: null });
    } catch (error) {
      await prisma.managedWebhook.update({ where: { id: row.id }, data: { state: 'failed', error: explainHerokuError(error) } });
      results.push({ appName: row.appName, webhookId: row.webhookId, state: 'failed', error: explainHerokuError(error) });
    }
  }
  return results;
}

/** Deletes every managed webhook; throws (keeping the rest) when Heroku fails other than "already gone". */
export async function deleteManagedWebhooks(prisma: PrismaClient, client: HerokuClient, integrationId: string): Promise<void> {
  await deleteAllManaged(webhookStore(prisma, integrationId), webhookRemote(client, { webhookUrl: '', secret: '', include: [] }));
}
