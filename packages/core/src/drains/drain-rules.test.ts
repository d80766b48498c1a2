import { describe, expect, it } from 'vitest';
import { compileRules } from '../rules/rule-set.js';
import { mapEvent } from '../rules/map-event.js';
import { compileDrainRules, DrainRuleError, type DrainRule } from './drain-rules.js';
import { crossingEvent, findCrossings, quietEvent, signalFacts, type MinuteBuckets } from './windows.js';
import { countDrainBody } from './count-body.js';
import { createRuleLiquid } from '../rules/liquid.js';

const liquid = createRuleLiquid();
const drains = (source: string) => compileDrainRules(source, 'drains.yaml', liquid);
const byName = (rules: DrainRule[]) => Object.fromEntries(rules.map((rule) => [rule.name, rule]));

describe('drain rules', () => {
  it('ship the defaults an on-call engineer would pick, with H27 off', () => {
    const rules = byName(drains('preset: log-drains\n').rules);
    expect(rules['h12-request-timeouts']).toMatchObject({ signal: 'H12', measure: 'count', threshold: 5, windowMinutes: 1, processTypes: new Set(['web']), quietMinutes: 10 });
    expect(rules['r15-memory-quota-vastly-exceeded']).toMatchObject({ signal: 'R15', threshold: 1 });
    expect(rules['h10-app-crashed']).toMatchObject({ signal: 'H10', threshold: 1 });
    expect(rules['http-5xx-share']).toMatchObject({ signal: '5xx', measure: 'share', threshold: 10, minRequests: 20, windowMinutes: 2 });
    expect(rules['r14-memory-quota-exceeded']).toMatchObject({ signal: 'R14', threshold: 3, windowMinutes: 5 });
    expect(rules['h27-client-interrupted']).toBeUndefined();
  });

  it("let drains.yaml replace a preset rule by name, turn one off, add its own and set the quiet period", () => {
    const set = drains(`preset: log-drains
quiet_minutes: 3
rules:
  - name: h12-request-timeouts
    signal: H12
    threshold: 20
    window_minutes: 2
    severity: critical
  - name: h10-app-crashed
    enabled: false
  - name: worker-memory
    signal: R14
    process_types: [worker]
    threshold: 1
    window_minutes: 1
    severity: low
    quiet_minutes: 30
`);
    const rules = byName(set.rules);
    expect(rules['h12-request-timeouts']).toMatchObject({ threshold: 20, windowMinutes: 2, processTypes: null, quietMinutes: 3 });
    expect(rules['h10-app-crashed']).toBeUndefined();
    expect(rules['worker-memory']).toMatchObject({ quietMinutes: 30, processTypes: new Set(['worker']) });
    // In the preset's place: after h11 (h10 is off).
    expect(set.rules.map((rule) => rule.name).slice(0, 2)).toEqual(['h11-backlog-too-deep', 'h12-request-timeouts']);
  });

  it.each([
    ['a share for a count signal', 'rules: [{name: a, signal: H12, threshold: 10%, window_minutes: 1, severity: high}]', 'threshold a share applies to signal 5xx only'],
    ['a count for 5xx', 'rules: [{name: a, signal: 5xx, threshold: 3, window_minutes: 1, severity: high}]', 'signal 5xx takes a share'],
    ['an unknown signal', 'rules: [{name: a, signal: H42, threshold: 3, window_minutes: 1, severity: high}]', 'signal'],
    ['a window over an hour', 'rules: [{name: a, signal: H12, threshold: 3, window_minutes: 90, severity: high}]', 'window_minutes'],
    ['a name used twice', 'rules: [{name: a, signal: H12, threshold: 3, window_minutes: 1, severity: high}, {name: a, signal: H13, threshold: 3, window_minutes: 1, severity: high}]', 'used by an earlier rule'],
    ['an unknown key', 'rules: [{name: a, signal: H12, threshold: 3, window_minutes: 1, severity: high, treshold: 2}]', 'treshold'],
    ['a broken template', 'rules: [{name: a, signal: H12, threshold: 3, window_minutes: 1, severity: high, title: "{{ app_name | nope }}"}]', 'title'],
    ['no preset and no rules', 'quiet_minutes: 3', 'expected `preset:`'],
    ['a misspelt key of the file', 'preset: log-drains\nquiet_minute: 5', 'unknown key quiet_minute'],
    ['a severity that is not one', 'rules: [{name: a, signal: H12, threshold: 3, window_minutes: 1, severity: urgent}]', 'severity must be one of critical, high, medium, low, info'],
    ['turning off a rule no preset has', 'preset: log-drains\nrules: [{name: nope, enabled: false}]', 'rule "nope": signal'],
  ])('refuse %s, naming it', (_, source, message) => {
    expect(() => drains(source)).toThrow(DrainRuleError);
    expect(() => drains(source)).toThrow(message);
  });
});

const rule = (overrides: Partial<DrainRule>): DrainRule => ({
  name: 'r',
  signal: 'H12',
  processTypes: null,
  measure: 'count',
  threshold: 5,
  minRequests: 20,
  windowMinutes: 1,
  quietMinutes: 10,
  ...overrides,
});
const buckets = (entries: [number, Record<string, number>][]): MinuteBuckets => new Map(entries);
const NOW = 29_000_000; // a minute that is a multiple of 1, 2, 5 and 10

it('rules.yaml refuses a severity that is not one too, and takes a template', () => {
  const rule = (severity: string) => `rules: [{name: a, entity: api:build, incident: {action: trigger, severity: "${severity}", dedup_key: k, title: t}}]`;
  expect(() => compileRules(rule('urgent'), 'rules.yaml')).toThrow('incident.severity must be one of critical, high, medium, low, info');
  expect(compileRules(rule("{% if data.status == 'failed' %}high{% else %}low{% endif %}"), 'rules.yaml').rules).toHaveLength(1);
});

describe('findCrossings', () => {
  it.each<[string, DrainRule, MinuteBuckets, { processType: string; windowStart: number; count: number; requests?: number | null }[]]>([
    ['a count that reaches the threshold', rule({}), buckets([[NOW, { 'web H12': 5 }]]), [{ processType: 'web', windowStart: NOW, count: 5 }]],
    ['a count below it', rule({}), buckets([[NOW, { 'web H12': 4 }]]), []],
    ['counts per process type, never summed across them', rule({}), buckets([[NOW, { 'web H12': 3, 'api H12': 3 }]]), []],
    ['only the process types named', rule({ processTypes: new Set(['web']) }), buckets([[NOW, { 'api H12': 9, 'web H12': 1 }]]), []],
    ['minutes of one window summed', rule({ windowMinutes: 5, threshold: 3 }), buckets([[NOW - 5, { 'worker H12': 1 }], [NOW - 3, { 'worker H12': 2 }]]), [{ processType: 'worker', windowStart: NOW - 5, count: 3 }]],
    ['windows aligned to their length: minutes of two windows are not summed', rule({ windowMinutes: 2, threshold: 3 }), buckets([[NOW - 1, { 'web H12': 2 }], [NOW, { 'web H12': 2 }]]), []],
    ['the window that ended a minute ago, still judged', rule({ threshold: 2 }), buckets([[NOW - 1, { 'web H12': 2 }]]), [{ processType: 'web', windowStart: NOW - 1, count: 2 }]],
    ['other signals ignored', rule({ threshold: 1 }), buckets([[NOW, { 'web H13': 9, 'web req': 9, lines: 9 }]]), []],
    ['a share of 5xx with enough requests', rule({ signal: '5xx', measure: 'share', threshold: 10, windowMinutes: 2 }), buckets([[NOW, { 'web req': 20, 'web 5xx': 2 }]]), [{ processType: 'web', windowStart: NOW, count: 2, requests: 20 }]],
    ['a share of 5xx below it', rule({ signal: '5xx', measure: 'share', threshold: 10, windowMinutes: 2 }), buckets([[NOW, { 'web req': 21, 'web 5xx': 2 }]]), []],
    ['a share with too few requests', rule({ signal: '5xx', measure: 'share', threshold: 10, windowMinutes: 2 }), buckets([[NOW, { 'web req': 19, 'web 5xx': 19 }]]), []],
  ])('%s', (_, drainRule, counts, expected) => {
    const found = findCrossings([drainRule], counts, NOW);
    expect(found.map(({ processType, windowStart, count, requests }) => ({ processType, windowStart, count, ...(drainRule.measure === 'share' && { requests }) }))).toEqual(expected);
  });
});

describe('drain events', () => {
  const ruleSet = compileRules('preset: squadcast\n', 'rules.yaml');
  const h12 = ruleSet.drains.rules.find((r) => r.name === 'h12-request-timeouts')!;
  const crossing = { rule: h12, processType: 'web', windowStart: NOW, count: 7, requests: null };

  it('name their window, so judging it again stores nothing new, and become incidents through the drain rules', () => {
    const event = crossingEvent('shop', crossing, NOW * 60_000 + 30_000);
    expect(event).toMatchObject({ eventId: `log:shop:web:h12-request-timeouts:${new Date(NOW * 60_000).toISOString()}`, entity: 'log:H12', action: 'crossed', source: 'heroku_drain' });
    expect(crossingEvent('shop', { ...crossing, count: 9 }, NOW * 60_000 + 50_000).eventId).toBe(event.eventId);
    const commands = mapEvent({ ...event, payload: event.payload }, ruleSet);
    expect(commands).toEqual([
      { type: 'incident.trigger', rule: 'h12-request-timeouts', dedupKey: 'heroku:shop:web:log:H12', severity: 'high', title: 'H12 Request timeout on shop (web): 7 in 1 min' },
    ]);
  });

  it('resolve after the quiet period with a message saying so, by the dedup key the event names, whatever the rules say today', () => {
    const facts = signalFacts(crossing);
    const lastCrossedAt = new Date(NOW * 60_000 + 30_000);
    const event = quietEvent({ id: 'incident-1', appName: 'shop', entity: 'log:H12', dedupKey: 'heroku:shop:web:log:H12' }, facts, lastCrossedAt, 10);
    expect(event.occurredAt!.toISOString()).toBe(new Date((NOW + 1 + 10) * 60_000).toISOString());
    const resolve = {
      type: 'incident.resolve',
      rule: 'drain-quiet',
      dedupKey: 'heroku:shop:web:log:H12',
      message: `quiet for 10 min: H12 on web stayed below the threshold after the window that ended ${new Date((NOW + 1) * 60_000).toISOString()}`,
      timelineKind: 'auto_resolved',
      quietSince: lastCrossedAt.toISOString(),
    };
    expect(mapEvent({ ...event, payload: event.payload }, ruleSet)).toEqual([resolve]);
    // The rule that opened it was turned off (or renamed) since: the incident still resolves.
    const without = compileRules('preset: squadcast\n', 'rules.yaml', undefined, { file: 'drains.yaml', source: 'preset: log-drains\nrules:\n  - {name: h12-request-timeouts, enabled: false, signal: H12, threshold: 5, window_minutes: 1, severity: high}\n' });
    expect(mapEvent({ ...event, payload: event.payload }, without)).toEqual([resolve]);
  });

  it('count a body: requests and 5xx per process type, error codes, and whether any is an error', () => {
    const frame = (message: string) => `${Buffer.byteLength(message)} ${message}`;
    const router = (rest: string) => frame(`<158>1 2026-12-06T10:00:00+00:00 host heroku router - ${rest}`);
    expect(countDrainBody(Buffer.from(router('at=info dyno=web.1 status=200') + router('at=info dyno=web.1 status=503') + router('at=error code=H12 dyno=web.2 status=503')))).toMatchObject({
      fields: new Map([['web req', 3], ['web 5xx', 2], ['web H12', 1]]),
      alarming: true,
    });
    expect(countDrainBody(Buffer.from(router('at=info dyno=web.1 status=200'))).alarming).toBe(false);
  });
});
