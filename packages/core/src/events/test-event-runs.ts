import { randomUUID } from 'node:crypto';
import { decryptSecret, signHerokuBody } from '../crypto.js';
import type { Database } from '../db/client.js';
import { touchedByEvent } from '../incidents/apply-event.js';
import type { IngestOutcome, Ingestor } from '../ingest/ingest.js';
import { RuleRenderError, mapEvent } from '../rules/map-event.js';
import type { RuleSet } from '../rules/rule-set.js';
import { appOfTestName, isTestAppName, testAppName } from './test-events.js';

/**
 * A signed sample delivery (a succeeded build) through the real ingress (signature, store,
 * queue) for the real worker to apply, under the test app name of the integration's first
 * monitored app: it exercises everything and touches nothing real (see test-events.ts in core).
 */
export async function sendTestEvent(
  deps: { ingestor: Ingestor; secretKey: Buffer },
  integration: { id: string; monitoredApps: string[]; secretCiphertext: string },
): Promise<IngestOutcome> {
  const app = testAppName(integration.monitoredApps[0] ?? 'pulsebridge-test-app');
  const eventId = randomUUID();
  const now = new Date().toISOString();
  const body = Buffer.from(
    JSON.stringify({
      id: eventId,
      resource: 'build',
      action: 'update',
      data: { id: randomUUID(), app: { name: app }, status: 'succeeded', source_blob: { version: 'pulsebridge-test-event' }, user: { email: 'pulsebridge@test.event' } },
      actor: { email: 'pulsebridge@test.event' },
      created_at: now,
      updated_at: now,
      webhook_metadata: { event: { id: eventId, include: 'api:build' }, delivery: { id: randomUUID() } },
    }),
  );
  return deps.ingestor.ingestHerokuWebhook({ integrationId: integration.id, rawBody: body, signature: signHerokuBody(decryptSecret(deps.secretKey, integration.secretCiphertext), body) });
}

/** What a test event did (on its test app) and what the same delivery would do for the real app. */
export interface TestEventResult {
  id: string;
  status: string;
  error: string | null;
  /** The worker is done with it: the panel stops refreshing. */
  done: boolean;
  app: string;
  testApp: string;
  /** What the worker did, kept apart from real incidents, pulses and channels. */
  did: string[];
  /** Slack messages of the test event's pulses (SLACK_DEFAULT_CHANNEL only: no service claims a test app). */
  slack: { target: string; status: string; error: string | null }[];
  /** What the same delivery for the real app would do now. */
  would: string[];
}

/** The result panel of a test event, or null when the id is not a test event's. */
export async function readTestEventResult(deps: { db: Database; rules: RuleSet }, eventRowId: string): Promise<TestEventResult | null> {
  const { prisma, pool } = deps.db;
  // The status first, then what the event made: the event's effects commit with its status,
  // so once the status says done, the effects read after it are complete (the panel stops
  // refreshing then). Read the other way round, a panel could stop on "processed, no pulse".
  const event = await prisma.event.findUnique({
    where: { id: eventRowId },
    select: { id: true, status: true, error: true, appName: true, entity: true, resource: true, action: true, occurredAt: true, payload: true },
  });
  if (!event || !isTestAppName(event.appName)) return null;
  const app = appOfTestName(event.appName);
  const touched = await touchedByEvent(pool, eventRowId);
  const [pulses, incidents, slack] = await Promise.all([
    prisma.pulse.findMany({ where: { id: { in: touched.pulseIds } }, select: { kind: true, summary: true } }),
    prisma.incident.findMany({ where: { id: { in: touched.incidents.map((incident) => incident.id) } }, select: { number: true, title: true, status: true } }),
    touched.pulseIds.length ? prisma.slackMessage.findMany({ where: { pulseId: { in: touched.pulseIds } }, select: { target: true, status: true, error: true } }) : [],
  ]);
  const done = event.status !== 'received';
  const did = [
    ...pulses.map((pulse) => `made a test ${pulse.kind} pulse "${pulse.summary}" (not listed in Deploys, never a suspect deploy)`),
    ...incidents.map((incident) => `${incident.status === 'resolved' ? 'recorded' : 'opened'} test incident #${incident.number} "${incident.title}"`),
  ];
  if (done && did.length === 0) did.push('nothing to change on the test app');
  return { id: event.id, status: event.status, error: event.error, done, app, testApp: event.appName, did, slack, would: await wouldDo(deps, app, event) };
}

/** The real app's side: the same delivery mapped under today's rules, against what is open now. */
async function wouldDo(
  deps: { db: Database; rules: RuleSet },
  app: string,
  event: { entity: string; resource: string; action: string | null; occurredAt: Date | null; payload: unknown },
): Promise<string[]> {
  const payload = event.payload as { data?: { app?: { name?: string } } };
  const realPayload = { ...payload, data: { ...payload.data, app: { ...payload.data?.app, name: app } } };
  let commands;
  try {
    commands = mapEvent({ entity: event.entity, resource: event.resource, action: event.action, appName: app, occurredAt: event.occurredAt, payload: realPayload }, deps.rules);
  } catch (error) {
    if (error instanceof RuleRenderError) return [`the rules could not map it: ${error.message}`];
    throw error;
  }
  const { prisma } = deps.db;
  const keys = commands.flatMap((command) => (command.type === 'pulse' ? [] : [command.dedupKey]));
  const [open, services] = await Promise.all([
    keys.length ? prisma.incident.findMany({ where: { dedupKey: { in: keys }, status: { not: 'resolved' } }, select: { number: true, title: true, dedupKey: true } }) : [],
    prisma.service.findMany({ where: { herokuAppNames: { has: app } }, select: { name: true, slackChannels: true, postPulses: true }, orderBy: { name: 'asc' } }),
  ]);
  const lines = commands.map((command): string => {
    if (command.type === 'pulse') {
      const posting = services.filter((service) => service.postPulses);
      const where = posting.length
        ? `posted to ${posting.map((service) => `${service.name} (${service.slackChannels.join(', ') || 'no channel'})`).join(', ')}`
        : services.length
          ? 'not posted (its services do not post pulses)'
          : 'posted to SLACK_DEFAULT_CHANNEL, if set (no service claims the app)';
      return `rule ${command.rule}: would make a ${command.kind} pulse "${command.summary}", ${where}`;
    }
    const incident = open.find((row) => row.dedupKey === command.dedupKey);
    if (command.type === 'incident.trigger') {
      return incident ? `rule ${command.rule}: would add an alert to incident #${incident.number} "${incident.title}"` : `rule ${command.rule}: would open a ${command.severity} incident "${command.title}"`;
    }
    return incident ? `rule ${command.rule}: would resolve incident #${incident.number} "${incident.title}"` : `rule ${command.rule}: would resolve the open incident of ${app} with key ${command.dedupKey} (none is open now)`;
  });
  return lines.length ? lines : ['no rule matches it'];
}
