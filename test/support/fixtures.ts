import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Published Heroku and Slack payloads and schemas, copied into the repository (see `test/fixtures/SOURCES.md`). */
export const FIXTURES_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures');

/** Heroku's example webhook deliveries: `docs/`, `real/` and `SOURCES.json`. */
export const WEBHOOK_EXAMPLES_DIR = path.join(FIXTURES_DIR, 'heroku/webhook-examples');

export interface WebhookFixture {
  /** e.g. `docs/api-build-create.json`, relative to heroku-webhook-examples. */
  name: string;
  /** The exact file bytes, as Heroku would POST them. */
  raw: Buffer;
  json: { id: string; data: Record<string, any>; [key: string]: any };
}

/** Every example delivery in `heroku-webhook-examples/{docs,real}`. */
export function webhookFixtures(): WebhookFixture[] {
  const base = WEBHOOK_EXAMPLES_DIR;
  return ['docs', 'real'].flatMap((folder) =>
    readdirSync(path.join(base, folder))
      .filter((file) => file.endsWith('.json'))
      .sort()
      .map((file) => {
        const raw = readFileSync(path.join(base, folder, file));
        return { name: `${folder}/${file}`, raw, json: JSON.parse(raw.toString('utf8')) };
      }),
  );
}

/**
 * The fixtures with distinct event ids: the hand-edited variants in `real/` reuse the id of
 * the delivery they were derived from, so each later one gets a fresh id (keeping the rest of
 * its bytes) to be ingested as the different event it stands for.
 */
export function distinctWebhookFixtures(): WebhookFixture[] {
  const seen = new Set<string>();
  return webhookFixtures().map((fixture) => {
    if (!seen.has(fixture.json.id)) {
      seen.add(fixture.json.id);
      return fixture;
    }
    const id = randomUUID();
    const json = structuredClone(fixture.json);
    json.id = id;
    if (json.webhook_metadata?.event) json.webhook_metadata.event.id = id;
    return { name: fixture.name, json, raw: Buffer.from(`${JSON.stringify(json, null, 2)}\n`) };
  });
}

/** App name a fixture is about: `data.app.name`, or `data.name` for api:app events. */
export function fixtureAppName(fixture: WebhookFixture): string {
  return fixture.json.data.app?.name ?? fixture.json.data.name;
}

export function legacyFixtures(): Record<'deploy' | 'attach' | 'detach', Record<string, any>> {
  return JSON.parse(readFileSync(path.join(FIXTURES_DIR, 'heroku/addon-legacy-events.json'), 'utf8'));
}

export function hmacVectors(): { secret: string; body_utf8?: string; body_file?: string; 'Heroku-Webhook-Hmac-SHA256': string }[] {
  return JSON.parse(readFileSync(path.join(WEBHOOK_EXAMPLES_DIR, 'SOURCES.json'), 'utf8')).hmac_test_vectors.vectors;
}

/** A `dyno` webhook body: the app's dyno crashed (exit status 1), happening now, with a fresh event id. */
export function dynoCrashBody(app: string, dyno = 'web.1'): string {
  const id = randomUUID();
  const data = { app: { name: app }, name: dyno, state: 'crashed', management: 'formation', exit_status: 1 };
  return JSON.stringify({ id, data, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } });
}
