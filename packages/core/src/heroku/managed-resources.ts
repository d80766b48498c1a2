import { HerokuApiError } from './platform-client.js';

/**
 * What pulsebridge keeps on each monitored app through the Platform API (an app webhook, a log
 * drain): one per app, made to match the integration's list. The records say, per app, what
 * Heroku answered, so an admin sees which app has one and why another has not.
 */
export interface ManagedRecord {
  id: string;
  appName: string;
  /** Heroku's id of the webhook or drain, once created. */
  remoteId: string | null;
  state: 'pending' | 'active' | 'failed' | 'deleting';
  /** The URL it sends to (null: made before pulsebridge kept it). */
  url: string | null;
}

export interface ManagedResult {
  appName: string;
  remoteId: string | null;
  state: 'active' | 'failed';
  error: string | null;
  url: string | null;
}

/** Where the records of one kind are kept for one integration. */
export interface ManagedStore {
  list(): Promise<ManagedRecord[]>;
  save(result: ManagedResult): Promise<void>;
  remove(recordId: string): Promise<void>;
  /** Heroku refused to delete it: kept, with the reason, and retried on the next sync. */
  markDeleting(recordId: string, error: string): Promise<void>;
}

/**
 * The Heroku side: create one on an app (adopting an equal one already there), point one at a
 * new URL (PUBLIC_URL changed, drain URLs rotated), delete one. `create` and `move` return its id.
 */
export interface ManagedRemote {
  create(appName: string, url: string): Promise<string>;
  move(appName: string, remoteId: string, url: string): Promise<string>;
  delete(appName: string, remoteId: string): Promise<void>;
}

export const explainHerokuError = (error: unknown): string => (error instanceof HerokuApiError ? `Heroku: ${error.describe()}` : `Heroku: ${(error as Error).message}`);

const alreadyGone = (error: unknown) => error instanceof HerokuApiError && error.status === 404;

/**
 * Creates one on each monitored app that has none, points one whose URL changed at the new one,
 * retries apps that failed before, and deletes those of apps no longer monitored. One app's
 * failure (no access, not found) is recorded for that app; the others still get theirs.
 */
export async function syncManaged(store: ManagedStore, remote: ManagedRemote, targets: { appName: string; url: string }[]): Promise<ManagedResult[]> {
  const existing = await store.list();
  const wanted = new Set(targets.map((target) => target.appName));
  for (const record of existing.filter((r) => !wanted.has(r.appName))) {
    if (record.remoteId !== null) {
      try {
        await remote.delete(record.appName, record.remoteId);
      } catch (error) {
        // Already gone (or the app is) is what we wanted; anything else is kept and reported.
        if (!alreadyGone(error)) {
          await store.markDeleting(record.id, explainHerokuError(error));
          continue;
        }
      }
    }
    await store.remove(record.id);
  }

  const results: ManagedResult[] = [];
  for (const { appName, url } of targets) {
    const record = existing.find((r) => r.appName === appName);
    if (record?.state === 'active' && record.remoteId !== null && (record.url === url || record.url === null)) {
      const result: ManagedResult = { appName, remoteId: record.remoteId, state: 'active', error: null, url };
      // One made before URLs were kept: its URL is taken to be this one, and kept from now on.
      if (record.url === null) await store.save(result);
      results.push(result);
      continue;
    }
    let result: ManagedResult;
    try {
      const moved = record?.state === 'active' && record.remoteId !== null;
      result = { appName, remoteId: moved ? await remote.move(appName, record.remoteId!, url) : await remote.create(appName, url), state: 'active', error: null, url };
    } catch (error) {
      result = { appName, remoteId: null, state: 'failed', error: explainHerokuError(error), url: null };
    }
    await store.save(result);
    results.push(result);
  }
  return results;
}

/** Deletes every one; throws (keeping the rest) when Heroku fails other than "already gone". */
export async function deleteAllManaged(store: ManagedStore, remote: ManagedRemote): Promise<void> {
  for (const record of await store.list()) {
    if (record.remoteId !== null) {
      try {
        await remote.delete(record.appName, record.remoteId);
      } catch (error) {
        if (!alreadyGone(error)) throw error;
      }
    }
    await store.remove(record.id);
  }
}
