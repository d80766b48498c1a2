import type { Db } from '../db/client.js';

/** How far back a service made (or given an app) later claims its apps' pulses. */
export const SERVICE_HISTORY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * Links what a service would have been linked to had it existed: the open incidents of these
 * apps and their pulses of the last day. Called when a service is created or given apps. Links
 * only (idempotent): nothing is posted to Slack here; an open incident's next change reaches
 * the service's channels like any other. Links to apps a service no longer names are kept, as
 * its history. Returns how many incidents and pulses were newly linked.
 */
export async function claimServiceHistory(db: Db, serviceId: string, appNames: string[], now: Date = new Date()): Promise<{ incidents: number; pulses: number }> {
  if (appNames.length === 0) return { incidents: 0, pulses: 0 };
  const incidents = await db.$executeRaw`
    INSERT INTO incident_services (incident_id, service_id)
    SELECT i.id, ${serviceId}::uuid FROM incidents i
     WHERE i.app_name = ANY(${appNames}::text[]) AND i.status <> 'resolved'
    ON CONFLICT DO NOTHING`;
  const pulses = await db.$executeRaw`
    INSERT INTO pulse_services (pulse_id, service_id, occurred_at)
    SELECT p.id, ${serviceId}::uuid, p.occurred_at FROM pulses p
     WHERE p.app_name = ANY(${appNames}::text[]) AND p.occurred_at >= ${new Date(now.getTime() - SERVICE_HISTORY_WINDOW_MS)}
    ON CONFLICT DO NOTHING`;
  return { incidents, pulses };
}
