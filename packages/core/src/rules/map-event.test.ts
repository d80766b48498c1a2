import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAddonNotification, parseHerokuWebhookEvent } from '../heroku/event-envelope.js';
import { legacyFixtures, webhookFixtures, type WebhookFixture } from '../../../../test/support/fixtures.js';
import { mapEvent, type EventCommand, type MappableEvent } from './map-event.js';
import { compileRules, loadRuleSet, RuleError, type RuleSet } from './rule-set.js';

const CONFIG_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../../config');
/** The `failures-only` preset; most tables below use it (Squadcast's table has its own). */
let rules: RuleSet;
let defaults: RuleSet;
beforeAll(async () => {
  rules = compileRules('preset: failures-only\n', '/etc/pulsebridge/rules.yaml');
  defaults = await loadRuleSet(CONFIG_DIR);
});

function toEvent(payload: Record<string, any>): MappableEvent {
  const envelope = parseHerokuWebhookEvent(payload);
  if (!envelope.ok) throw new Error(envelope.message);
  return { ...envelope.value, payload };
}

/** One line per command, easy to read in a table. */
function describeCommands(commands: EventCommand[]): string[] {
  return commands.map((c) =>
    c.type === 'pulse'
      ? `pulse ${c.kind} "${c.summary}" ${c.dedupKey} status=${c.status} version=${c.version} sha=${c.commitSha} actor=${c.actorEmail}`
      : c.type === 'incident.trigger' || c.type === 'incident.note'
        ? `${c.type === 'incident.trigger' ? 'trigger' : 'note'} ${c.severity} "${c.title}" ${c.dedupKey}`
        : `resolve ${c.dedupKey}`,
  );
}

const fixtureByName = (name: string): WebhookFixture => {
  const found = webhookFixtures().find((f) => f.name === name);
  if (!found) throw new Error(`no fixture ${name}`);
  return found;
};

/** Squadcast's full table (the `squadcast` preset, v1's defaults): every entity triggers. */
const SQUADCAST: Record<string, string[]> = {
  'docs/api-addon-attachment-create.json': ['trigger info "Add-on my-resource-0003 attached to sample-app-0084 as DATABASE" heroku:sample-app-0084:addon-attachment:25bfb830-8c4a-49e1-b0a3-831da386de90'],
  'docs/api-addon-attachment-destroy.json': ['trigger info "Add-on slowdb-infinite-52190 detached from sample-app-0273 as SLOWDB" heroku:sample-app-0273:addon-attachment:1ce601cc-314d-4f53-ab57-41983258c894'],
  'docs/api-addon-create.json': ['trigger info "Add-on cloudcounter-encircled-31432 (cloudcounter:basic) provisioned on sample-app-0036" heroku:sample-app-0036:addon:ac7eaeaf-cac3-43f2-8854-7c823e7bf755'],
  'docs/api-addon-destroy.json': ['trigger low "Add-on slowdb-infinite-52190 (slowdb:basic) removed from sample-app-0273" heroku:sample-app-0273:addon:1ecadf4a-0775-4868-8103-3f5fb689631d'],
  'docs/api-addon-update.json': ['trigger info "Add-on slowdb-contoured-29490 (slowdb:basic) changed on sample-app-0272" heroku:sample-app-0272:addon:1aa22eb5-157b-4bf3-92d9-d8a256eef621'],
  'docs/api-app-create.json': ['trigger info "App polar-wildwood-81034 created" heroku:polar-wildwood-81034:app:create:c27a5f4b-c9b7-4636-9645-48a5f7066c27'],
  'docs/api-app-destroy.json': ['trigger medium "App sample-app-0191 destroyed" heroku:sample-app-0191:app:destroy:904942e5-8388-4e82-85f5-14d7f6c64f09'],
  'docs/api-app-update.json': ['trigger low "App sample-app-0301 updated" heroku:sample-app-0301:app:update:d472a8bb-1a3c-4f78-aad1-995e6d0022ec'],
  'docs/api-collaborator-create.json': ['trigger low "Collaborator user-0386@example.com added to sample-app-0270 (owner)" heroku:sample-app-0270:collaborator:a1b51dab-571c-4189-915b-9baff5a4a347:create'],
  'docs/api-collaborator-destroy.json': ['trigger low "Collaborator org-0059@herokumanager.com removed from sample-app-0182" heroku:sample-app-0182:collaborator:fa695043-13d1-4fdb-995f-d7c922a46233:destroy'],
  'docs/api-collaborator-update.json': ['trigger low "Collaborator user-0387@example.com changed on sample-app-0270" heroku:sample-app-0270:collaborator:e08c3fff-bd19-4dfa-ba1a-d9134da4aa82:update'],
  'docs/api-domain-create.json': ['trigger low "Domain polar-wildwood-81034.herokuapp.com added to polar-wildwood-81034" heroku:polar-wildwood-81034:domain:polar-wildwood-81034.herokuapp.com:create'],
  'docs/api-domain-destroy.json': ['trigger low "Domain sample-app-0125.herokuapp.com removed from new-app-name" heroku:new-app-name:domain:sample-app-0125.herokuapp.com:destroy'],
  // A one-off dyno that has just started is neither a crash nor a recovery.
  'docs/api-dyno-create.json': [],
  'docs/api-formation-destroy.json': ['trigger medium "Formation web removed from sample-app-2263" heroku:sample-app-2263:formation:web'],
  'docs/api-formation-update.json': ['trigger medium "Formation web scaled 1 -> 0 on sample-app-0197" heroku:sample-app-0197:formation:web'],
  'docs/api-release-create.json': [
    'trigger info "Release v3 succeeded on sample-app-0339: Update DATABASE by heroku-postgresql" heroku:sample-app-0339:release:5f1463a4-0210-43ba-b906-52599e246482',
    'pulse release "[Heroku][Release] Update DATABASE by heroku-postgresql" release:5f1463a4-0210-43ba-b906-52599e246482:succeeded status=succeeded version=v3 sha=null actor=heroku-postgresql@addons.heroku.com',
  ],
  'docs/api-release-update.json': [
    'trigger high "Release v1 failed on sample-app-0008: no description" heroku:sample-app-0008:release:ddc2fba2-b2ad-41f5-bf7c-6e9b4614a53b',
    'pulse release "[Heroku][Release] sample-app-0008" release:ddc2fba2-b2ad-41f5-bf7c-6e9b4614a53b:failed status=failed version=v1 sha=null actor=user-0008@example.com',
  ],
  'docs/api-sni-endpoint-create.json': ['trigger low "SNI endpoint carnotaurus-30180 created on sample-app-0224" heroku:sample-app-0224:sni-endpoint:3bf54a53-e5de-4cf6-906d-f890a7ee3cdd'],
  'docs/api-sni-endpoint-destroy.json': ['trigger low "SNI endpoint tokyo-0007 removed from sample-app-0224" heroku:sample-app-0224:sni-endpoint:f7d3f525-b29c-4e83-9f08-bd0dafbc529b'],
  'docs/api-sni-endpoint-update.json': ['trigger low "SNI endpoint tokyo-0012 updated on sample-app-0224" heroku:sample-app-0224:sni-endpoint:2b7470dc-38a7-4e0b-880b-1ae8ad37206e'],
  'docs/api-ssl-endpoint-create.json': ['trigger low "SSL endpoint yamaguchi-38087 created on sample-app-0224" heroku:sample-app-0224:ssl-endpoint:8a72c044-285e-4c9f-8c1f-0a393fe480cb'],
  'docs/api-ssl-endpoint-destroy.json': ['trigger low "SSL endpoint tokyo-0001 removed from sample-app-0223" heroku:sample-app-0223:ssl-endpoint:eb6dc3f2-63de-407c-9037-d4b4f7bb454c'],
  'docs/api-ssl-endpoint-update.json': ['trigger low "SSL endpoint tokyo-0003 updated on sample-app-0226" heroku:sample-app-0226:ssl-endpoint:56f8c3f7-295a-4359-a85b-06b3ca814a93'],
  'docs/dyno-starting-docs.json': [],
  'real/api-build-create-pending.json': [
    'pulse build "[Heroku][Build] Example Project pending" build:b6d5ff62-08db-4044-b96c-b8e9e41f1191:pending status=pending version=null sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=bwilliams@example.com',
  ],
  'real/api-build-update-failed.json': [
    'trigger high "Build failed on sample-project (1a5f89d)" heroku:sample-project:build',
    'pulse build "[Heroku][Build] sample-project failed" build:b6d5ff62-08db-4044-b96c-b8e9e41f1191:failed status=failed version=null sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
  ],
  'real/api-build-update-succeeded.json': [
    'resolve heroku:vedant-test:build',
    'pulse build "[Heroku][Build] vedant-test succeeded" build:b6d5ff62-08db-4044-b96c-b8e9e41f1191:succeeded status=succeeded version=v3 sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
  ],
  'real/api-release-create-pending.json': [
    'trigger info "Release v3 pending on sample-project: Deploy 1a5f89db" heroku:sample-project:release:6be9012f-1c42-4f2d-bb99-af152aad07d8',
    'pulse release "[Heroku][Release] Deploy 1a5f89db" release:6be9012f-1c42-4f2d-bb99-af152aad07d8:pending status=pending version=v3 sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
  ],
  'real/api-release-create-succeeded.json': [
    'trigger info "Release v3 succeeded on vedant-test: Deploy 1a5f89db" heroku:vedant-test:release:6be9012f-1c42-4f2d-bb99-af152aad07d8',
    'pulse release "[Heroku][Release] Deploy 1a5f89db" release:6be9012f-1c42-4f2d-bb99-af152aad07d8:succeeded status=succeeded version=v3 sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
  ],
  'real/api-release-update-failed.json': [
    'trigger high "Release v3 failed on sample-project: Deploy 1a5f89db" heroku:sample-project:release:6be9012f-1c42-4f2d-bb99-af152aad07d8',
    'pulse release "[Heroku][Release] Deploy 1a5f89db" release:6be9012f-1c42-4f2d-bb99-af152aad07d8:failed status=failed version=v3 sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
  ],
  // Not current: an alert on the release's incident, but no deployment pulse.
  'real/api-release-update-not-current.json': ['trigger info "Release v3 succeeded on sample-project: Deploy 1a5f89db" heroku:sample-project:release:6be9012f-1c42-4f2d-bb99-af152aad07d8'],
  'real/api-release-update-succeeded.json': [
    'trigger info "Release v3 succeeded on zulip-test: Deploy 1a5f89db" heroku:zulip-test:release:6be9012f-1c42-4f2d-bb99-af152aad07d8',
    'pulse release "[Heroku][Release] Deploy 1a5f89db" release:6be9012f-1c42-4f2d-bb99-af152aad07d8:succeeded status=succeeded version=v3 sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
  ],
};

describe('preset failures-only over every reference payload', () => {
  const expected: Record<string, string[]> = {
    'docs/api-addon-attachment-create.json': ['note info "Add-on my-resource-0003 attached to sample-app-0084 as DATABASE" heroku:sample-app-0084:addon-attachment:25bfb830-8c4a-49e1-b0a3-831da386de90'],
    'docs/api-addon-attachment-destroy.json': ['note info "Add-on slowdb-infinite-52190 detached from sample-app-0273 as SLOWDB" heroku:sample-app-0273:addon-attachment:1ce601cc-314d-4f53-ab57-41983258c894'],
    'docs/api-addon-create.json': ['note info "Add-on cloudcounter-encircled-31432 (cloudcounter:basic) provisioned on sample-app-0036" heroku:sample-app-0036:addon:ac7eaeaf-cac3-43f2-8854-7c823e7bf755'],
    'docs/api-addon-destroy.json': ['note low "Add-on slowdb-infinite-52190 (slowdb:basic) removed from sample-app-0273" heroku:sample-app-0273:addon:1ecadf4a-0775-4868-8103-3f5fb689631d'],
    'docs/api-addon-update.json': ['note info "Add-on slowdb-contoured-29490 (slowdb:basic) changed on sample-app-0272" heroku:sample-app-0272:addon:1aa22eb5-157b-4bf3-92d9-d8a256eef621'],
    'docs/api-app-create.json': ['note info "App polar-wildwood-81034 created" heroku:polar-wildwood-81034:app:create:c27a5f4b-c9b7-4636-9645-48a5f7066c27'],
    'docs/api-app-destroy.json': ['note medium "App sample-app-0191 destroyed" heroku:sample-app-0191:app:destroy:904942e5-8388-4e82-85f5-14d7f6c64f09'],
    'docs/api-app-update.json': ['note low "App sample-app-0301 updated" heroku:sample-app-0301:app:update:d472a8bb-1a3c-4f78-aad1-995e6d0022ec'],
    'docs/api-collaborator-create.json': ['note low "Collaborator user-0386@example.com added to sample-app-0270 (owner)" heroku:sample-app-0270:collaborator:a1b51dab-571c-4189-915b-9baff5a4a347:create'],
    'docs/api-collaborator-destroy.json': ['note low "Collaborator org-0059@herokumanager.com removed from sample-app-0182" heroku:sample-app-0182:collaborator:fa695043-13d1-4fdb-995f-d7c922a46233:destroy'],
    'docs/api-collaborator-update.json': ['note low "Collaborator user-0387@example.com changed on sample-app-0270" heroku:sample-app-0270:collaborator:e08c3fff-bd19-4dfa-ba1a-d9134da4aa82:update'],
    'docs/api-domain-create.json': ['note low "Domain polar-wildwood-81034.herokuapp.com added to polar-wildwood-81034" heroku:polar-wildwood-81034:domain:polar-wildwood-81034.herokuapp.com:create'],
    'docs/api-domain-destroy.json': ['note low "Domain sample-app-0125.herokuapp.com removed from new-app-name" heroku:new-app-name:domain:sample-app-0125.herokuapp.com:destroy'],
    // A one-off dyno that has just started is neither a crash nor a recovery.
    'docs/api-dyno-create.json': [],
    'docs/api-formation-destroy.json': ['note medium "Formation web removed from sample-app-2263" heroku:sample-app-2263:formation:web'],
    'docs/api-formation-update.json': ['note medium "Formation web scaled 1 -> 0 on sample-app-0197" heroku:sample-app-0197:formation:web'],
    'docs/api-release-create.json': [
      'pulse release "[Heroku][Release] Update DATABASE by heroku-postgresql" release:5f1463a4-0210-43ba-b906-52599e246482:succeeded status=succeeded version=v3 sha=null actor=heroku-postgresql@addons.heroku.com',
    ],
    'docs/api-release-update.json': [
      'trigger high "Release v1 failed on sample-app-0008: no description" heroku:sample-app-0008:release:ddc2fba2-b2ad-41f5-bf7c-6e9b4614a53b',
      'pulse release "[Heroku][Release] sample-app-0008" release:ddc2fba2-b2ad-41f5-bf7c-6e9b4614a53b:failed status=failed version=v1 sha=null actor=user-0008@example.com',
    ],
    'docs/api-sni-endpoint-create.json': ['note low "SNI endpoint carnotaurus-30180 created on sample-app-0224" heroku:sample-app-0224:sni-endpoint:3bf54a53-e5de-4cf6-906d-f890a7ee3cdd'],
    'docs/api-sni-endpoint-destroy.json': ['note low "SNI endpoint tokyo-0007 removed from sample-app-0224" heroku:sample-app-0224:sni-endpoint:f7d3f525-b29c-4e83-9f08-bd0dafbc529b'],
    'docs/api-sni-endpoint-update.json': ['note low "SNI endpoint tokyo-0012 updated on sample-app-0224" heroku:sample-app-0224:sni-endpoint:2b7470dc-38a7-4e0b-880b-1ae8ad37206e'],
    'docs/api-ssl-endpoint-create.json': ['note low "SSL endpoint yamaguchi-38087 created on sample-app-0224" heroku:sample-app-0224:ssl-endpoint:8a72c044-285e-4c9f-8c1f-0a393fe480cb'],
    'docs/api-ssl-endpoint-destroy.json': ['note low "SSL endpoint tokyo-0001 removed from sample-app-0223" heroku:sample-app-0223:ssl-endpoint:eb6dc3f2-63de-407c-9037-d4b4f7bb454c'],
    'docs/api-ssl-endpoint-update.json': ['note low "SSL endpoint tokyo-0003 updated on sample-app-0226" heroku:sample-app-0226:ssl-endpoint:56f8c3f7-295a-4359-a85b-06b3ca814a93'],
    'docs/dyno-starting-docs.json': [],
    'real/api-build-create-pending.json': [
      'pulse build "[Heroku][Build] Example Project pending" build:b6d5ff62-08db-4044-b96c-b8e9e41f1191:pending status=pending version=null sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=bwilliams@example.com',
    ],
    'real/api-build-update-failed.json': [
      'trigger high "Build failed on sample-project (1a5f89d)" heroku:sample-project:build',
      'pulse build "[Heroku][Build] sample-project failed" build:b6d5ff62-08db-4044-b96c-b8e9e41f1191:failed status=failed version=null sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
    ],
    'real/api-build-update-succeeded.json': [
      'resolve heroku:vedant-test:build',
      'pulse build "[Heroku][Build] vedant-test succeeded" build:b6d5ff62-08db-4044-b96c-b8e9e41f1191:succeeded status=succeeded version=v3 sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
    ],
    'real/api-release-create-pending.json': [
      'pulse release "[Heroku][Release] Deploy 1a5f89db" release:6be9012f-1c42-4f2d-bb99-af152aad07d8:pending status=pending version=v3 sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
    ],
    'real/api-release-create-succeeded.json': [
      'pulse release "[Heroku][Release] Deploy 1a5f89db" release:6be9012f-1c42-4f2d-bb99-af152aad07d8:succeeded status=succeeded version=v3 sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
    ],
    'real/api-release-update-failed.json': [
      'trigger high "Release v3 failed on sample-project: Deploy 1a5f89db" heroku:sample-project:release:6be9012f-1c42-4f2d-bb99-af152aad07d8',
      'pulse release "[Heroku][Release] Deploy 1a5f89db" release:6be9012f-1c42-4f2d-bb99-af152aad07d8:failed status=failed version=v3 sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
    ],
    // Not current: no deployment pulse, and a release that did not fail is no incident.
    'real/api-release-update-not-current.json': [],
    'real/api-release-update-succeeded.json': [
      'pulse release "[Heroku][Release] Deploy 1a5f89db" release:6be9012f-1c42-4f2d-bb99-af152aad07d8:succeeded status=succeeded version=v3 sha=1a5f89db9a6a62f29689b6eeea65e6b6eb0879cd actor=user@example.com',
    ],
  };

  it('has an expectation for every fixture', () => {
    expect(Object.keys(expected).sort()).toEqual(webhookFixtures().map((f) => f.name).sort());
  });

  it.each(Object.entries(expected))('%s', (name, commands) => {
    expect(describeCommands(mapEvent(toEvent(fixtureByName(name).json), rules))).toEqual(commands);
  });

  it('the build pulse links to the release it produced', () => {
    const [, pulse] = mapEvent(toEvent(fixtureByName('real/api-build-update-succeeded.json').json), rules);
    const releasePulse = mapEvent(toEvent(fixtureByName('real/api-release-update-succeeded.json').json), rules).find((command) => command.type === 'pulse');
    expect(pulse).toMatchObject({ type: 'pulse', correlationId: '6be9012f-1c42-4f2d-bb99-af152aad07d8', externalId: 'b6d5ff62-08db-4044-b96c-b8e9e41f1191' });
    expect(releasePulse).toMatchObject({ type: 'pulse', correlationId: '6be9012f-1c42-4f2d-bb99-af152aad07d8' });
  });

  it('a legacy deploy notification makes a deploy pulse with head, previous head and git log', () => {
    const body = legacyFixtures().deploy;
    const envelope = parseAddonNotification('resource-1', Buffer.from(JSON.stringify(body)), body);
    if (!envelope.ok) throw new Error(envelope.message);
    const [pulse] = mapEvent({ ...envelope.value, payload: body }, rules);
    expect(pulse).toMatchObject({
      type: 'pulse',
      kind: 'deploy',
      summary: '[Heroku][Deploy] deploying-furiously-42 441e20',
      commitSha: '441e204ea9f2ddeb4fcdd7f641e6c7240ffb8b91',
      actorEmail: 'jane@somedomain.com',
      fields: { head: '441e20', prev_head: '953fd37b50c1382a9b7364364791e9be7e6efc71', git_log: expect.stringContaining('b980268 Awesome new feature') },
    });
  });
});

describe('preset squadcast (the default rules) over every reference payload', () => {
  let squadcast: RuleSet;
  beforeAll(() => {
    squadcast = compileRules('preset: squadcast\n', '/etc/pulsebridge/rules.yaml');
  });

  it('has an expectation for every fixture', () => {
    expect(Object.keys(SQUADCAST).sort()).toEqual(webhookFixtures().map((f) => f.name).sort());
  });

  it.each(Object.entries(SQUADCAST))('%s', (name, commands) => {
    expect(describeCommands(mapEvent(toEvent(fixtureByName(name).json), squadcast))).toEqual(commands);
  });

  it('is what config/rules.yaml selects', () => {
    expect(defaults.preset).toBe('squadcast');
    expect(defaults.rules.map((rule) => rule.name)).toEqual(squadcast.rules.map((rule) => rule.name));
  });

  it('is the table of the contract: every entity triggers, builds and dynos resolve', () => {
    const triggering = new Set(squadcast.rules.filter((rule) => rule.incident?.action === 'trigger').flatMap((rule) => [...rule.entities]));
    for (const entity of ['api:build', 'dyno', 'api:addon-attachment', 'api:addon', 'api:app', 'api:collaborator', 'api:domain', 'api:formation', 'api:release', 'api:sni-endpoint', 'api:ssl-endpoint']) {
      expect(triggering).toContain(entity);
    }
    expect(squadcast.rules.some((rule) => rule.incident?.action === 'note')).toBe(false);
    expect(squadcast.preset).toBe('squadcast');
  });

  it("a rules file's own rules come after the preset's; a name the preset uses is refused", () => {
    const extended = compileRules('preset: squadcast\nrules:\n  - {name: mine, entity: api:build, pulse: {kind: build, summary: s, dedup_key: k}}\n', 'rules.yaml');
    expect(extended.rules.map((rule) => rule.name).slice(-2)).toEqual(['ssl-endpoint-changed', 'mine']);
    expect(() => compileRules('preset: squadcast\nrules:\n  - {name: build-failed, entity: api:build, pulse: {kind: build, summary: s, dedup_key: k}}\n', 'rules.yaml')).toThrow(
      /rules\.yaml: rule "build-failed": the name is used by an earlier rule/,
    );
  });
});

describe('preset failures-only: failures page, the rest is recorded', () => {
  it('no rule triggers on a successful or informational change', () => {
    expect(rules.preset).toBe('failures-only');
    const triggers = rules.rules.filter((rule) => rule.incident?.action === 'trigger').map((rule) => rule.name);
    expect(triggers).toEqual(['build-failed', 'dyno-crashed', 'one-off-dyno-failed', 'one-off-dyno-timed-out', 'release-failed']);
  });
});

describe('dyno lifecycle', () => {
  const dyno = (data: Record<string, unknown>, options: { include?: 'dyno' | 'api:dyno'; metadata?: boolean } = {}) => {
    const include = options.include ?? 'dyno';
    const payload: Record<string, any> = {
      id: 'e',
      data: { app: { name: 'shop' }, ...data },
      created_at: '2026-11-24T10:00:00Z',
      ...(include === 'api:dyno' && { resource: 'dyno', action: 'update' }),
      ...(options.metadata !== false && { webhook_metadata: { event: { id: 'e', include } } }),
    };
    return describeCommands(mapEvent(toEvent(payload), rules));
  };
  const crashedWeb = 'trigger critical "Dyno web.1 crashed on shop (exit status 1)" heroku:shop:dyno:web.1';
  const upWeb = 'resolve heroku:shop:dyno:web.1';

  const cases: [string, Record<string, unknown>, string[]][] = [
    ['Cedar starting', { name: 'web.1', state: 'starting', management: 'formation' }, []],
    ['Cedar up resolves', { name: 'web.1', state: 'up', management: 'formation' }, [upWeb]],
    ['Cedar stopping', { name: 'web.1', state: 'stopping', management: 'formation', exit_status: null }, []],
    ['Cedar crashed triggers', { name: 'web.1', state: 'crashed', management: 'formation', exit_status: 1 }, [crashedWeb]],
    ['Fir down after stopping', { name: 'web.1', state: 'down', management: 'formation', exit_status: 0 }, []],
    ['Fir down after a crash adds nothing', { name: 'web.1', state: 'down', management: 'formation', exit_status: 1 }, []],
    ['worker crash is high', { name: 'worker.2', state: 'crashed', management: 'formation', exit_status: 137 }, ['trigger high "Dyno worker.2 crashed on shop (exit status 137)" heroku:shop:dyno:worker.2']],
    ['crash without exit status', { name: 'web.3', state: 'crashed' }, ['trigger critical "Dyno web.3 crashed on shop" heroku:shop:dyno:web.3']],
    ['one-off running', { name: 'run.9359', state: 'up', management: 'run:attached', command: 'bash' }, []],
    ['one-off exit 0 down', { name: 'run.9359', state: 'down', management: 'run:detached', exit_status: 0, command: 'rake db:migrate' }, []],
    ['one-off exit 0 crashed (Private Spaces)', { name: 'run.9359', state: 'crashed', management: 'run:detached', exit_status: 0, command: 'rake x' }, []],
    [
      'one-off failed',
      { name: 'run.9359', state: 'crashed', management: 'run:detached', exit_status: 1, command: 'rake db:migrate' },
      ['trigger medium "One-off dyno run.9359 (rake db:migrate) exited with status 1 on shop" heroku:shop:dyno:run.9359'],
    ],
    [
      'one-off timed out (143) is not a crash',
      { name: 'run.9359', state: 'down', management: 'run:detached', exit_status: 143, command: 'sleep 5000' },
      ['trigger low "One-off dyno run.9359 (sleep 5000) was stopped after its time to live on shop" heroku:shop:dyno:run.9359'],
    ],
    ['scheduler dyno judged by exit status', { name: 'scheduler.1234', state: 'crashed', management: 'run:detached', exit_status: 0 }, []],
  ];

  it.each(cases)('%s (dyno event)', (_name, data, expected) => {
    expect(dyno(data)).toEqual(expected);
  });
  it.each(cases)('%s (api:dyno event)', (_name, data, expected) => {
    expect(dyno(data, { include: 'api:dyno' })).toEqual(expected);
  });
  it.each(cases)('%s (without webhook_metadata)', (_name, data, expected) => {
    expect(dyno(data, { metadata: false })).toEqual(expected);
  });
});

describe('builds and releases by status', () => {
  const build = (status: string) =>
    describeCommands(mapEvent(toEvent({ id: 'b', resource: 'build', action: 'update', data: { id: 'build-1', app: { name: 'shop' }, status, source_blob: { version: 'abcdef1234' } }, actor: { email: 'a@example.com' } }), rules));
  it('pending makes only a pulse, failed triggers, succeeded resolves', () => {
    expect(build('pending')).toEqual(['pulse build "[Heroku][Build] shop pending" build:build-1:pending status=pending version=null sha=abcdef1234 actor=a@example.com']);
    expect(build('failed')[0]).toBe('trigger high "Build failed on shop (abcdef1)" heroku:shop:build');
    expect(build('succeeded')[0]).toBe('resolve heroku:shop:build');
  });

  const release = (action: string, status: string, current: boolean | undefined) =>
    mapEvent(toEvent({ id: 'r', resource: 'release', action, data: { id: 'rel-1', app: { name: 'shop' }, status, current, version: 42, description: 'Deploy abc' } }), rules).filter((c) => c.type === 'pulse');
  it.each([
    ['create', 'pending', false, 1],
    ['create', 'succeeded', true, 1],
    ['update', 'pending', false, 0],
    ['update', 'succeeded', false, 0],
    ['update', 'succeeded', true, 1],
    ['update', 'failed', false, 1],
    ['update', 'failed', true, 1],
    ['update', 'expired', false, 0],
  ] as const)('release %s %s current=%s makes %i pulse(s)', (action, status, current, pulses) => {
    expect(release(action, status, current)).toHaveLength(pulses);
  });
});

describe('rule validation names the file, rule and problem', () => {
  const bad: [string, string, RegExp][] = [
    ['not YAML', 'rules: [', /rules\.yaml: not valid YAML/],
    ['no rules', 'something: else', /expected a top-level `rules:` list/],
    ['unknown preset', 'preset: pagerduty', /expected a top-level `rules:` list with at least one rule, or `preset:` naming one of squadcast/],
    ['note without title', 'rules:\n  - name: n\n    entity: api:addon\n    incident: {action: note, dedup_key: k}', /rule "n": incident\.title/],
    ['bad filter', 'rules:\n  - name: a\n    entity: api:build\n    incident: {action: trigger, severity: high, dedup_key: k, title: "{{ x | nosuch }}"}', /rule "a": incident\.title: undefined filter: nosuch/],
    ['bad condition', 'rules:\n  - name: b\n    entity: api:build\n    when: "{% foo"\n    pulse: {kind: build, summary: s, dedup_key: k}', /rule "b": when:/],
    ['unknown action', 'rules:\n  - name: c\n    entity: api:build\n    incident: {action: explode, dedup_key: k}', /rule "c": incident\.action/],
    ['nothing to do', 'rules:\n  - name: d\n    entity: api:build', /rule "d": needs an `incident` or a `pulse`/],
    ['unknown field', 'rules:\n  - name: e\n    entity: api:build\n    colour: red\n    pulse: {kind: build, summary: s, dedup_key: k}', /rule "e":.*colour/],
    ['duplicate name', 'rules:\n  - {name: f, entity: x, pulse: {kind: build, summary: s, dedup_key: k}}\n  - {name: f, entity: y, pulse: {kind: build, summary: s, dedup_key: k}}', /rule "f": the name is used by an earlier rule/],
    ['bad pulse kind', 'rules:\n  - {name: g, entity: x, pulse: {kind: party, summary: s, dedup_key: k}}', /rule "g": pulse\.kind/],
  ];
  it.each(bad)('%s', (_name, source, message) => {
    expect(() => compileRules(source, '/etc/pulsebridge/rules.yaml')).toThrow(RuleError);
    expect(() => compileRules(source, '/etc/pulsebridge/rules.yaml')).toThrow(message);
  });

  it('a missing rules file says where it looked', async () => {
    await expect(loadRuleSet('/nonexistent')).rejects.toThrow(/\/nonexistent\/rules\.yaml: cannot be read \(ENOENT\)/);
  });

  it('a severity template that renders something else fails that event clearly', () => {
    const set = compileRules('rules:\n  - {name: s, entity: api:build, incident: {action: trigger, severity: "{{ data.status }}", dedup_key: k, title: t}}', 'rules.yaml');
    expect(() => mapEvent(toEvent({ id: 'x', resource: 'build', data: { status: 'weird' } }), set)).toThrow(/rule s: severity rendered "weird"/);
  });
});

describe('untrusted text stays text', () => {
  it('payload markup is kept verbatim for the edges to escape, never interpreted by Liquid', () => {
    const [trigger] = mapEvent(toEvent({ id: 'x', resource: 'release', action: 'update', data: { id: 'r', app: { name: 'shop' }, status: 'failed', version: 1, description: '<!channel> {{ 7 | plus: 1 }} <https://evil.example|click>' } }), rules);
    expect(trigger).toMatchObject({ title: 'Release v1 failed on shop: <!channel> {{ 7 | plus: 1 }} <https://evil.example|click>' });
  });
});
