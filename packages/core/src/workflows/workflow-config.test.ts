import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileWorkflows, loadWorkflows, WorkflowConfigError } from './workflow-config.js';
import { matchWorkflows, workflowApplies, type WorkflowSubject } from './workflow-match.js';

const CONFIG = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../../config');
/** A workflows file of the workflows given (each a block of YAML at column 0). */
const file = (...workflows: string[]) => `workflows:\n${workflows.map((w) => w.split('\n').map((line, i) => `${i === 0 ? '  - ' : '    '}${line}`).join('\n')).join('\n')}\n`;
const one = (workflow: string) => file(workflow);

describe('workflows.yaml', () => {
  it('the shipped file loads, its examples off', () => {
    const set = loadWorkflows(CONFIG);
    expect(set.all.map((w) => [w.name, w.enabled])).toEqual([
      ['diagnose-h12-storm', false],
      ['restart-worker-on-r15', false],
    ]);
    expect(set.workflows).toEqual([]);
    // Turned on, both compile: their commands and templates pass the same checks.
    const on = compileWorkflows(readFileSync(path.join(CONFIG, 'workflows.yaml'), 'utf8').replaceAll('enabled: false', 'enabled: true'), 'workflows.yaml');
    expect(on.workflows.map((w) => [w.name, w.cooldownMinutes, w.actions.map((a) => a.kind)])).toEqual([
      ['diagnose-h12-storm', 0, ['heroku.run', 'slack.post']],
      ['restart-worker-on-r15', 10, ['heroku.restart']],
    ]);
  });

  it.each<[string, string, string]>([
    ['an unknown action', 'name: w\non: incident.triggered\nactions:\n  - heroku.scale: {}', 'w.yaml: workflow "w": actions[0]: unknown action "heroku.scale" (one of heroku.run, heroku.restart, heroku.rollback, slack.post, incident.set_severity, incident.acknowledge)'],
    ['an unknown trigger', 'name: w\non: incident.deleted\nactions:\n  - incident.acknowledge: {}', 'w.yaml: workflow "w": on '],
    ['an unknown condition', 'name: w\non: incident.triggered\nif:\n  colour: red\nactions:\n  - incident.acknowledge: {}', 'w.yaml: workflow "w": if: unknown key colour'],
    ['an unknown action field', 'name: w\non: incident.triggered\nactions:\n  - heroku.restart: {dyno: web.1, force: true}', 'w.yaml: workflow "w": actions[0]: heroku.restart: unknown key force'],
    ['two restart targets', 'name: w\non: incident.triggered\nactions:\n  - heroku.restart: {dyno: web.1, all: true}', 'w.yaml: workflow "w": actions[0]: heroku.restart: give at most one of dyno, process_type and all'],
    ['a command the run checks refuse', 'name: w\non: incident.triggered\nactions:\n  - heroku.run: {command: "curl {{ incident.title }}"}', 'w.yaml: workflow "w": actions[0]: heroku.run: command '],
    ['a bad severity', 'name: w\non: incident.triggered\nactions:\n  - incident.set_severity: {severity: urgent}', 'w.yaml: workflow "w": actions[0]: incident.set_severity: severity '],
    ['an incident action on pulses', 'name: w\non: pulse.created\nactions:\n  - incident.acknowledge: {}', 'w.yaml: workflow "w": on: pulse.created has no incident'],
    ['a Liquid condition that does not parse', 'name: w\non: incident.triggered\nif:\n  liquid: "{% if %}"\nactions:\n  - incident.acknowledge: {}', 'w.yaml: workflow "w": if.liquid: '],
    ['a Slack text that undoes the escaping', 'name: w\non: incident.triggered\nactions:\n  - slack.post: {text: "{{ incident.title | raw }}"}', 'w.yaml: workflow "w": actions[0]: slack.post: text: undefined filter: raw'],
    ['a Slack text that reads a file', 'name: w\non: incident.triggered\nactions:\n  - slack.post: {text: "{% include \'secrets\' %}"}', 'w.yaml: workflow "w": actions[0]: slack.post: text: '],
    ['no actions', 'name: w\non: incident.triggered\nactions: []', 'w.yaml: workflow "w": actions '],
    ['a bad name', 'name: W!\non: incident.triggered\nactions:\n  - incident.acknowledge: {}', 'w.yaml: workflow "W!": name must be lowercase letters, digits and dashes'],
  ])('refuses %s, naming the file, the workflow and the field', (_what, workflow, message) => {
    expect(() => compileWorkflows(one(workflow), 'w.yaml')).toThrow(WorkflowConfigError);
    expect(() => compileWorkflows(one(workflow), 'w.yaml')).toThrow(message);
  });

  it('refuses a name used twice and a file of something else', () => {
    const twice = file('name: w\non: incident.triggered\nactions:\n  - incident.acknowledge: {}', 'name: w\non: incident.resolved\nactions:\n  - incident.acknowledge: {}');
    expect(() => compileWorkflows(twice, 'w.yaml')).toThrow('w.yaml: workflow "w": the name is used by an earlier workflow');
    expect(() => compileWorkflows('rules: []\n', 'w.yaml')).toThrow('w.yaml: unknown key rules (the file takes workflows)');
    expect(() => compileWorkflows('workflows: [\n', 'w.yaml')).toThrow(/^w\.yaml: not valid YAML/);
  });
});

describe('which workflows run on a change', () => {
  const set = compileWorkflows(
    `workflows:
  - {name: any-trigger, on: incident.triggered, actions: [{incident.acknowledge: {}}]}
  - {name: dyno-high, on: [incident.triggered, incident.alert_grouped], if: {entity: [dyno, api:dyno], min_severity: high}, actions: [{incident.acknowledge: {}}]}
  - {name: shop-titles, on: incident.triggered, if: {app: shop, service: checkout, title_contains: TIMEOUT}, actions: [{incident.acknowledge: {}}]}
  - {name: exact-severity, on: incident.resolved, if: {severity: [low, info]}, actions: [{incident.acknowledge: {}}]}
  - {name: releases, on: pulse.created, if: {entity: release}, actions: [{slack.post: {text: x}}]}
  - {name: many-alerts, on: incident.alert_grouped, if: {liquid: "{% if incident.alert_count > 3 %}true{% endif %}"}, actions: [{incident.acknowledge: {}}]}
`,
    'w.yaml',
  );
  const incident = (over: Partial<NonNullable<WorkflowSubject['incident']>> = {}) => ({ id: 'i', number: 1, title: 'Request timeout on shop', status: 'triggered', severity: 'high', app_name: 'shop', entity: 'dyno', dedup_key: 'k', alert_count: 1, url: 'u', ...over });
  const change = (trigger: WorkflowSubject['trigger'], over: Partial<NonNullable<WorkflowSubject['incident']>> = {}, services = ['checkout']): WorkflowSubject => ({ trigger, incident: incident(over), pulse: null, services });
  const pulse = (kind: string): WorkflowSubject => ({ trigger: 'pulse.created', incident: null, pulse: { id: 'p', kind, summary: 'Deploy', status: 'succeeded', version: 'v2', app_name: 'shop', commit_sha: null, actor_email: null }, services: [] });

  it.each<[string, WorkflowSubject, string[]]>([
    ['a high dyno incident on shop, title matching', change('incident.triggered'), ['any-trigger', 'dyno-high', 'shop-titles']],
    ['a medium one', change('incident.triggered', { severity: 'medium' }), ['any-trigger', 'shop-titles']],
    ['critical is at or above high', change('incident.triggered', { severity: 'critical', entity: 'api:dyno' }), ['any-trigger', 'dyno-high', 'shop-titles']],
    ['another app', change('incident.triggered', { app_name: 'billing' }), ['any-trigger', 'dyno-high']],
    ['no linked service', change('incident.triggered', {}, []), ['any-trigger', 'dyno-high']],
    ['a title without the words', change('incident.triggered', { title: 'Build failed' }), ['any-trigger', 'dyno-high']],
    ['a grouped alert, the third', change('incident.alert_grouped', { alert_count: 3 }), ['dyno-high']],
    ['a grouped alert, the fourth', change('incident.alert_grouped', { alert_count: 4 }), ['dyno-high', 'many-alerts']],
    ['resolved, low', change('incident.resolved', { severity: 'low' }), ['exact-severity']],
    ['resolved, medium', change('incident.resolved', { severity: 'medium' }), []],
    ['a release pulse', pulse('release'), ['releases']],
    ['a build pulse', pulse('build'), []],
  ])('%s', async (_what, subject, expected) => {
    expect((await matchWorkflows(set, subject)).map((w) => w.name)).toEqual(expected);
    // The conditions besides Liquid are a pure function of the workflow and the change.
    for (const workflow of set.workflows) if (workflow.conditions.liquid === null) expect(workflowApplies(workflow, subject)).toBe(expected.includes(workflow.name));
  });
});
