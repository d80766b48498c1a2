import type { PrismaClient } from '../generated/prisma/client.js';
import { deleteAllManaged, syncManaged, type ManagedRemote, type ManagedStore } from './managed-resources.js';
import { HerokuApiError, type HerokuClient } from './platform-client.js';

/** Per monitored app, the drain URL pulsebridge gives it (`drainUrls`). */
export interface DrainSyncTarget {
  integrationId: string;
  drains: { appName: string; url: string }[];
}

function drainStore(prisma: PrismaClient, integrationId: string): ManagedStore {
  return {
    list: async () => (await prisma.managedDrain.findMany({ where: { integrationId } })).map((row) => ({ id: row.id, appName: row.appName, remoteId: row.drainId, state: row.state, url: row.url })),
    save: async (result) => {
      const data = { drainId: result.remoteId, state: result.state, error: result.error, url: result.url };
      await prisma.managedDrain.upsert({ where: { integrationId_appName: { integrationId, appName: result.appName } }, create: { integrationId, appName: result.appName, ...data }, update: data });
    },
    remove: async (id) => {
      await prisma.managedDrain.delete({ where: { id } });
    },
    markDeleting: async (id, error) => {
      await prisma.managedDrain.update({ where: { id }, data: { state: 'deleting', error } });
    },
  };
}

function drainRemote(client: HerokuClient): ManagedRemote {
  const create = async (appName: string, url: string) => {
    try {
      return (await client.createLogDrain(appName, url)).id;
    } catch (error) {
      // Heroku refuses a second drain with the same URL (422): one made by hand, or by an earlier attempt whose answer was lost.
      if (!(error instanceof HerokuApiError && (error.status === 422 || error.status === 409))) throw error;
      const found = (await client.listLogDrains(appName)).find((drain) => drain.url === url);
      if (!found) throw error;
      return found.id;
    }
  };
  const remove = async (appName: string, id: string) => {
    await client.deleteLogDrain(appName, id);
  };
  return {
    create,
    // An app's drain cannot be changed: the new one is added before the old one goes, so no batch is lost.
    async move(appName, id, url) {
      const created = await create(appName, url);
      try {
        await remove(appName, id);
      } catch (error) {
        if (!(error instanceof HerokuApiError && error.status === 404)) throw error;
      }
      return created;
    },
    delete: remove,
  };
}

/**
 * Makes the integration's managed log drains match its monitored apps: a drain to the app's
 * drain URL on each (adopting one with that URL already there), none on apps no longer
 * monitored; per app, what Heroku answered.
 */
export async function syncManagedDrains(prisma: PrismaClient, client: HerokuClient, target: DrainSyncTarget) {
  return syncManaged(drainStore(prisma, target.integrationId), drainRemote(client), target.drains);
}

/** Deletes every managed drain; throws (keeping the rest) when Heroku fails other than "already gone". */
export async function deleteManagedDrains(prisma: PrismaClient, client: HerokuClient, integrationId: string): Promise<void> {
  await deleteAllManaged(drainStore(prisma, integrationId), drainRemote(client));
}
