import type { PrismaClient } from '../generated/prisma/client.js';
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

const explain = (error: unknown) => (error instanceof HerokuApiError ? `Heroku: ${error.describe()}` : `Heroku: ${(error as Error).message}`);

/**
 * Makes the integration's managed webhooks match its monitored apps: creates a webhook on
 * each app that has none (adopting one with the same URL already there), retries apps that
 * failed before, and deletes webhooks of apps no longer monitored. One app's failure (no
 * access, not found) is recorded for that app; the others still get theirs.
 */
export async function syncManagedWebhooks(prisma: PrismaClient, client: HerokuClient, target: WebhookSyncTarget): Promise<ManagedWebhookResult[]> {
  const existing = await prisma.managedWebhook.findMany({ where: { integrationId: target.integrationId } });
  const wanted = new Set(target.monitoredApps);

  for (const row of existing.filter((r) => !wanted.has(r.appName))) {
    if (row.webhookId !== null) {
      try {
        await client.deleteWebhook(row.appName, row.webhookId);
      } catch (error) {
        // Already gone (or the app is) is what we wanted; anything else is kept and reported.
        if (!(error instanceof HerokuApiError && error.status === 404)) {
          await prisma.managedWebhook.update({ where: { id: row.id }, data: { state: 'deleting', error: explain(error) } });
          continue;
        }
      }
    }
    await prisma.managedWebhook.delete({ where: { id: row.id } });
  }

  const results: ManagedWebhookResult[] = [];
  for (const appName of target.monitoredApps) {
    const row = existing.find((r) => r.appName === appName);
    if (row?.state === 'active' && row.webhookId !== null) {
      results.push({ appName, webhookId: row.webhookId, state: 'active', error: null });
      continue;
    }
    let result: ManagedWebhookResult;
    try {
      const webhook = await createOrAdopt(client, appName, target);
      result = { appName, webhookId: webhook.id, state: 'active', error: null };
    } catch (error) {
      result = { appName, webhookId: null, state: 'failed', error: explain(error) };
    }
    await prisma.managedWebhook.upsert({
      where: { integrationId_appName: { integrationId: target.integrationId, appName } },
      create: { integrationId: target.integrationId, appName, webhookId: result.webhookId, state: result.state, error: result.error },
      update: { webhookId: result.webhookId, state: result.state, error: result.error },
    });
    results.push(result);
  }
  return results;
}

async function createOrAdopt(client: HerokuClient, appName: string, target: WebhookSyncTarget) {
  const input = { include: target.include, level: 'sync' as const, url: target.webhookUrl, secret: target.secret };
  try {
    return await client.createWebhook(appName, input);
  } catch (error) {
    // A webhook with this URL is already there (made by hand, or an earlier attempt whose answer was lost).
    if (!(error instanceof HerokuApiError && error.status === 409)) throw error;
    const found = (await client.listWebhooks(appName)).find((webhook) => webhook.url === target.webhookUrl);
    if (!found) throw error;
    return client.updateWebhook(appName, found.id, input);
  }
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
      await prisma.managedWebhook.update({ where: { id: row.id }, data: { state: 'failed', error: explain(error) } });
      results.push({ appName: row.appName, webhookId: row.webhookId, state: 'failed', error: explain(error) });
    }
  }
  return results;
}

/** Deletes every managed webhook; throws (keeping the rest) when Heroku fails other than "already gone". */
export async function deleteManagedWebhooks(prisma: PrismaClient, client: HerokuClient, integrationId: string): Promise<void> {
  const rows = await prisma.managedWebhook.findMany({ where: { integrationId } });
  for (const row of rows) {
    if (row.webhookId !== null) {
      try {
        await client.deleteWebhook(row.appName, row.webhookId);
      } catch (error) {
        if (!(error instanceof HerokuApiError && error.status === 404)) throw error;
      }
    }
    await prisma.managedWebhook.delete({ where: { id: row.id } });
  }
}
