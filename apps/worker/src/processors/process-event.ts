import { UnrecoverableError } from 'bullmq';
import type pg from 'pg';
import { markEvent, type EventProcessJob, type Logger } from '@pulsebridge/core';

export interface ProcessEventDeps {
  pool: pg.Pool;
  logger: Logger;
}

interface EventRow {
  id: string;
  source: 'heroku_webhook' | 'heroku_addon';
  status: 'received' | 'processed' | 'skipped' | 'failed';
  resource: string;
  app_name: string | null;
  integration_id: string | null;
  monitored_apps: string[] | null;
  integration_exists: boolean;
}

/** Why an event is archived but not acted on, or null when it should be acted on. */
export function skipReason(event: Pick<EventRow, 'source' | 'app_name' | 'integration_exists' | 'monitored_apps'>): string | null {
  if (event.source !== 'heroku_webhook') return null;
  if (!event.integration_exists) return 'its integration was deleted';
  if (event.app_name === null) return 'the event names no app';
  if (!(event.monitored_apps ?? []).includes(event.app_name)) return `app ${event.app_name} is not monitored by its integration`;
  return null;
}

/**
 * `event.process`: acts on one archived event exactly once. An event already processed or
 * skipped is left alone unless the job is a replay; an event for an app its integration does
 * not monitor is marked `skipped`.
 */
export async function processEvent(job: EventProcessJob, deps: ProcessEventDeps): Promise<void> {
  const { rows } = await deps.pool.query<EventRow>(
    `SELECT e.id, e.source, e.status, e.resource, e.app_name, e.integration_id,
            i.monitored_apps, (i.id IS NOT NULL) AS integration_exists
       FROM events e LEFT JOIN heroku_integrations i ON i.id = e.integration_id
      WHERE e.id = $1`,
    [job.eventRowId],
  );
  const event = rows[0];
  if (event === undefined) throw new UnrecoverableError(`event ${job.eventRowId} is not in the archive`);
  if (!job.replay && (event.status === 'processed' || event.status === 'skipped')) return;

  const reason = skipReason(event);
  if (reason !== null) {
    await markEvent(deps.pool, event.id, 'skipped', reason);
    return;
  }
  // Incidents and pulses are made from the event here, by the entity's rules.
  await markEvent(deps.pool, event.id, 'processed', null);
}
