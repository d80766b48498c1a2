import type pg from 'pg';
import type { Logger } from 'pino';
import { safeEqual, verifyHerokuSignature } from '../crypto.js';
import { parseAddonNotification, parseHerokuWebhookEvent, unstorableJson, type EventEnvelope, type ParseResult } from '../heroku/event-envelope.js';
import type { Metrics } from '../metrics.js';
import type { Queues } from '../queues/queues.js';
import { createBatcher, type Batcher } from './batcher.js';
import { BadEventDataError, storeEvents, type NewEvent, type StoredEvent } from './event-store.js';
import type { IntegrationDirectory } from './integration-directory.js';

/** What happened to one delivery; the HTTP route maps each kind to a status code. */
export type IngestOutcome =
  | { kind: 'accepted'; eventId: string; eventRowId: string }
  | { kind: 'duplicate'; eventId: string; eventRowId: string }
  | { kind: 'missing_signature' }
  | { kind: 'bad_signature' }
  | { kind: 'unknown_integration' }
  | { kind: 'unauthorized' }
  | { kind: 'invalid_json'; message: string }
  | { kind: 'not_a_heroku_event'; message: string }
  /** PostgreSQL refused the delivery's data (too deep, too large, a NUL byte): retrying cannot help. */
  | { kind: 'refused'; message: string }
  | { kind: 'unavailable'; message: string };

export interface Ingestor {
  /** Verify -> store (durably, once per event id) -> enqueue, for a Heroku App Webhook delivery. */
  ingestHerokuWebhook(input: { integrationId: string; rawBody: Buffer; signature: string | undefined }): Promise<IngestOutcome>;
  /** The same for a legacy add-on partner notification, authenticated by HTTP Basic. */
  ingestAddonNotification(input: { resourceId: string; rawBody: Buffer; authorization: string | undefined }): Promise<IngestOutcome>;
  /** Waits until every delivery submitted so far is stored and its enqueue attempted (for shutdown and tests). */
  drain(): Promise<void>;
}

export interface IngestDeps {
  pool: pg.Pool;
  queues: Queues;
  integrations: IntegrationDirectory;
  metrics: Metrics;
  logger: Logger;
  addon: { id: string | undefined; password: string | undefined };
  maxBatch: number;
  /**
   * Events stored together share an `event.process` job, up to `maxEvents` (the queues split a
   * batch so); an enqueue waits up to `lingerMs` for others to fill a job.
   */
  eventJobs?: { maxEvents: number; lingerMs: number };
  /** Longest wait for Redis before answering anyway; the reconciler enqueues what is left. */
  enqueueTimeoutMs?: number;
}

const MAX_PENDING_ENQUEUES = 5_000;

/** Recheck a failing signature against the database when the cached secret is older than this. */
const SIGNATURE_RECHECK_AGE_MS = 1_000;

export function createIngestor(deps: IngestDeps): Ingestor {
  const enqueueTimeoutMs = deps.enqueueTimeoutMs ?? 2_000;
  let pendingEnqueues = 0;

  // Two group-commit stages: batches of inserts, then batches of enqueues. A request is
  // answered once its row is committed; its enqueue follows at once (the reconciler covers
  // one that never happens). Past MAX_PENDING_ENQUEUES, requests wait for their enqueue too,
  // so a slow Redis slows ingress instead of growing memory.
  const writer: Batcher<NewEvent, StoredEvent | BadEventDataError> = createBatcher(
    async (events) => {
      deps.metrics.ingestBatchSize.observe(events.length);
      const done = deps.metrics.ingestStoreSeconds.startTimer();
      const results = await storeEvents(deps.pool, events);
      done();
      return results;
    },
    { maxBatch: deps.maxBatch, maxInFlight: 3 },
  );

  const enqueuer: Batcher<StoredEvent, void> = createBatcher(
    async (stored) => {
      const done = deps.metrics.ingestEnqueueSeconds.startTimer();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          deps.queues.enqueueEvents(stored.map((event) => ({ eventId: event.eventId, eventRowId: event.eventRowId }))),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`enqueue timed out after ${enqueueTimeoutMs} ms`)), enqueueTimeoutMs);
          }),
        ]);
      } catch (error) {
        // Stored is what counts: the reconciler enqueues events left `received`.
        deps.metrics.enqueueFailures.inc(stored.length);
        deps.logger.warn({ err: error, events: stored.length }, 'enqueue failed; stored events will be enqueued by the reconciler');
      } finally {
        clearTimeout(timer);
        done();
      }
      return stored.map(() => undefined);
    },
    {
      maxBatch: deps.maxBatch,
      maxInFlight: 2,
      ...(deps.eventJobs !== undefined && deps.eventJobs.maxEvents > 1 && deps.eventJobs.lingerMs > 0 && { linger: { ms: deps.eventJobs.lingerMs, until: deps.eventJobs.maxEvents } }),
    },
  );

  const store = async (envelope: EventEnvelope, extra: { integrationId: string | null; addonResourceId: string | null; payloadJson: string }): Promise<IngestOutcome> => {
    let result: StoredEvent | BadEventDataError;
    try {
      result = await writer.submit({ ...envelope, ...extra });
    } catch (error) {
      deps.logger.error({ err: error, eventId: envelope.eventId }, 'could not store event');
      return { kind: 'unavailable', message: 'the event store is unavailable; retry later' };
    }
    if (result instanceof BadEventDataError) return { kind: 'refused', message: `payload cannot be stored: ${result.message}` };
    if (result.inserted) {
      pendingEnqueues += 1;
      const enqueued = enqueuer.submit(result).finally(() => {
        pendingEnqueues -= 1;
      });
      if (pendingEnqueues > MAX_PENDING_ENQUEUES) await enqueued;
    }
    return { kind: result.inserted ? 'accepted' : 'duplicate', eventId: result.eventId, eventRowId: result.eventRowId };
  };

  const parseJson = (rawBody: Buffer): ParseResult<unknown> => {
    try {
      return { ok: true, value: JSON.parse(rawBody.toString('utf8')) };
    } catch {
      return { ok: false, message: 'body is not valid JSON' };
    }
  };

  return {
    async ingestHerokuWebhook({ integrationId, rawBody, signature }) {
      let integration;
      try {
        integration = await deps.integrations.get(integrationId);
      } catch (error) {
        deps.logger.error({ err: error }, 'could not read integration');
        return { kind: 'unavailable', message: 'the event store is unavailable; retry later' };
      }
      if (integration === null) return { kind: 'unknown_integration' };
      if (signature === undefined || signature.trim() === '') return { kind: 'missing_signature' };
      if (!verifyHerokuSignature(integration.secret, rawBody, signature)) {
        const fresh = await deps.integrations.get(integrationId, { maxAgeMs: SIGNATURE_RECHECK_AGE_MS }).catch(() => null);
        if (fresh === null || fresh.secret === integration.secret || !verifyHerokuSignature(fresh.secret, rawBody, signature)) {
          return { kind: 'bad_signature' };
        }
      }
      const json = parseJson(rawBody);
      if (!json.ok) return { kind: 'invalid_json', message: json.message };
      const unstorable = unstorableJson(json.value);
      if (unstorable !== null) return { kind: 'refused', message: unstorable };
      const envelope = parseHerokuWebhookEvent(json.value);
      if (!envelope.ok) return { kind: 'not_a_heroku_event', message: envelope.message };
      return store(envelope.value, { integrationId, addonResourceId: null, payloadJson: rawBody.toString('utf8') });
    },

    async ingestAddonNotification({ resourceId, rawBody, authorization }) {
      if (!isAddonAuthorized(authorization, deps.addon)) return { kind: 'unauthorized' };
      const json = parseJson(rawBody);
      if (!json.ok) return { kind: 'invalid_json', message: json.message };
      const unstorable = unstorableJson(json.value);
      if (unstorable !== null) return { kind: 'refused', message: unstorable };
      const envelope = parseAddonNotification(resourceId, rawBody, json.value);
      if (!envelope.ok) return { kind: 'not_a_heroku_event', message: envelope.message };
      return store(envelope.value, { integrationId: null, addonResourceId: resourceId, payloadJson: rawBody.toString('utf8') });
    },

    drain: async () => {
      await writer.drain();
      await enqueuer.drain();
    },
  };
}

/** HTTP Basic `ADDON_ID:ADDON_PASSWORD`, compared in constant time; refused when not configured. */
function isAddonAuthorized(header: string | undefined, addon: { id: string | undefined; password: string | undefined }): boolean {
  if (addon.id === undefined || addon.password === undefined || header === undefined) return false;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match?.[1]) return false;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator < 0) return false;
  const idOk = safeEqual(decoded.slice(0, separator), addon.id);
  const passwordOk = safeEqual(decoded.slice(separator + 1), addon.password);
  return idOk && passwordOk;
}
