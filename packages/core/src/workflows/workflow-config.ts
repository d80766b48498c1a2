import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Liquid, Template } from 'liquidjs';
import { z } from 'zod';
import { compileTemplate, parseConfigYaml } from '../config-files.js';
import { DynoNameSchema, ProcessTypeSchema } from '../heroku/app-actions.js';
import { RUN_TIME_TO_LIVE_CAP } from '../heroku/execute-run.js';
import { CommandTemplateError, createCommandLiquid, renderCommand } from '../heroku/run-command.js';
import { createRuleLiquid } from '../rules/liquid.js';
import { SEVERITIES } from '../rules/severity.js';
import { SlackChannelSchema } from '../services/service-store.js';
import { createSlackLiquid } from '../slack/message-templates.js';

/**
 * Workflows (`config/workflows.yaml`): what runs by itself when an incident or a pulse changes.
 * A workflow names its trigger, its conditions and its ordered actions; this module reads and
 * checks them (a file that does not parse, or names an unknown trigger, action or field, stops
 * start-up with one line naming the file, the workflow and the field) and compiles their Liquid.
 */

export const WORKFLOW_TRIGGERS = ['incident.triggered', 'incident.acknowledged', 'incident.resolved', 'incident.alert_grouped', 'pulse.created'] as const;
export type WorkflowTrigger = (typeof WORKFLOW_TRIGGERS)[number];

export const WORKFLOW_ACTIONS = ['heroku.run', 'heroku.restart', 'heroku.rollback', 'slack.post', 'incident.set_severity', 'incident.acknowledge'] as const;
export type WorkflowActionName = (typeof WORKFLOW_ACTIONS)[number];

/** Cool-down of a workflow that restarts or rolls back, unless it sets its own. */
export const DEFAULT_ACTING_COOLDOWN_MINUTES = 10;
export const MAX_ACTIONS = 10;

const Severity = z.enum(SEVERITIES);
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1).max(100)]).transform((value) => (Array.isArray(value) ? value : [value]) as z.output<T>[]);

const ConditionsSchema = z
  .object({
    /** Webhook entities (`dyno`, `api:release`, `log:H12`, ...). */
    entity: oneOrMany(z.string().min(1).max(100)).optional(),
    severity: oneOrMany(Severity).optional(),
    /** At or above this severity. */
    min_severity: Severity.optional(),
    app: oneOrMany(z.string().min(1).max(100)).optional(),
    service: oneOrMany(z.string().min(1).max(100)).optional(),
    /** The incident's title (or the pulse's summary) contains this text, ignoring case. */
    title_contains: z.string().min(1).max(200).optional(),
    /** A Liquid condition: the workflow runs when it renders `true`. */
    liquid: z.string().min(1).max(2_000).optional(),
  })
  .strict();

const ACTION_SCHEMAS = {
  'heroku.run': z
    .object({
      command: z.string().min(1).max(4_000),
      dyno_size: z.enum(['standard-1X', 'standard-2X']).default('standard-1X'),
      time_to_live: z.number().int().min(1).max(RUN_TIME_TO_LIVE_CAP).default(RUN_TIME_TO_LIVE_CAP),
      slack_channels: z.array(SlackChannelSchema).max(20).default([]),
    })
    .strict(),
  /** One dyno, a process type, every dyno (`all: true`), or with none of them the dyno or process type the incident names. */
  'heroku.restart': z
    .object({ dyno: DynoNameSchema.optional(), process_type: ProcessTypeSchema.optional(), all: z.literal(true).optional() })
    .strict()
    .refine((restart): boolean => [restart.dyno, restart.process_type, restart.all].filter((v) => v !== undefined).length <= 1, { message: 'give at most one of dyno, process_type and all' }),
  /** To the release before the incident's suspect deploy, refused when the app has moved on since. */
  'heroku.rollback': z.object({}).strict(),
  /** To `channel`, or to the incident's (or pulse's) channels. `text` is Liquid; every value in it is escaped for Slack. */
  'slack.post': z.object({ channel: SlackChannelSchema.optional(), text: z.string().min(1).max(3_000) }).strict(),
  'incident.set_severity': z.object({ severity: Severity }).strict(),
  'incident.acknowledge': z.object({}).strict(),
} satisfies Record<WorkflowActionName, z.ZodType>;

const WorkflowSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,79}$/, { error: 'must be lowercase letters, digits and dashes' }),
    enabled: z.boolean().default(true),
    on: oneOrMany(z.enum(WORKFLOW_TRIGGERS)),
    if: ConditionsSchema.default({}),
    cooldown_minutes: z.number().int().min(0).max(7 * 24 * 60).optional(),
    actions: z.array(z.unknown()).min(1).max(MAX_ACTIONS),
  })
  .strict();

export type WorkflowAction =
  | { kind: 'heroku.run'; command: string; dynoSize: string; timeToLive: number; slackChannels: string[] }
  | { kind: 'heroku.restart'; dyno: string | null; processType: string | null; all: boolean }
  | { kind: 'heroku.rollback' }
  | { kind: 'slack.post'; channel: string | null; text: Template[] }
  | { kind: 'incident.set_severity'; severity: (typeof SEVERITIES)[number] }
  | { kind: 'incident.acknowledge' };

export interface Workflow {
  name: string;
  triggers: ReadonlySet<WorkflowTrigger>;
  conditions: {
    entities: ReadonlySet<string> | null;
    severities: ReadonlySet<string> | null;
    minSeverity: string | null;
    apps: ReadonlySet<string> | null;
    services: ReadonlySet<string> | null;
    titleContains: string | null;
    liquid: Template[] | null;
  };
  cooldownMinutes: number;
  actions: WorkflowAction[];
  /** The workflow as written, for the UI. */
  source: unknown;
}

export interface WorkflowSet {
  file: string;
  /** Enabled workflows, in file order. */
  workflows: Workflow[];
  /** Every workflow in the file, enabled or not, as written (the UI lists them). */
  all: { name: string; enabled: boolean; source: unknown }[];
  /** Engines the workflows' templates were compiled with. */
  liquid: { conditions: Liquid; slack: Liquid };
}

/** Invalid workflows: the message names the file, the workflow and the problem. */
export class WorkflowConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowConfigError';
  }
}

const FileSchema = z.object({ workflows: z.array(z.unknown()).max(200).default([]) }).strict();

/** Validates and compiles workflows from YAML text (`file` names it in errors). */
export function compileWorkflows(source: string, file: string): WorkflowSet {
  const fail = (message: string) => new WorkflowConfigError(message);
  const raw = parseConfigYaml(source, file, fail) ?? {};
  const top = FileSchema.safeParse(raw);
  if (!top.success) {
    const issue = top.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') throw fail(`${file}: unknown key ${issue.keys.join(', ')} (the file takes workflows)`);
    throw fail(`${file}: ${issue.path.join('.') || 'the file'} ${issue.message}`);
  }
  const liquid = { conditions: createRuleLiquid(), slack: createSlackLiquid() };
  const commandLiquid = createCommandLiquid();
  const workflows: Workflow[] = [];
  const all: WorkflowSet['all'] = [];
  const names = new Set<string>();
  top.data.workflows.forEach((item, index) => {
    const label = typeof (item as { name?: unknown })?.name === 'string' ? `workflow ${JSON.stringify((item as { name: string }).name)}` : `workflow #${index + 1}`;
    const where = `${file}: ${label}`;
    const parsed = WorkflowSchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') throw fail(`${where}: ${field ? `${field}: ` : ''}unknown key ${issue.keys.join(', ')}`);
      throw fail(`${where}: ${field ? `${field} ` : ''}${issue.message}`);
    }
    const input = parsed.data;
    if (names.has(input.name)) throw fail(`${where}: the name is used by an earlier workflow`);
    names.add(input.name);
    all.push({ name: input.name, enabled: input.enabled, source: item });
    const actions = input.actions.map((rawAction, at) => compileAction(rawAction, `${where}: actions[${at}]`, liquid.slack, commandLiquid));
    if (actions.some((action) => action.kind === 'heroku.rollback' || action.kind === 'heroku.restart' || action.kind === 'incident.set_severity' || action.kind === 'incident.acknowledge') && input.on.includes('pulse.created')) {
      throw fail(`${where}: on: pulse.created has no incident for heroku.rollback, heroku.restart or incident.* actions`);
    }
    if (!input.enabled) return;
    const acting = actions.some((action) => action.kind === 'heroku.restart' || action.kind === 'heroku.rollback');
    const set = <T>(values: T[] | undefined) => (values === undefined ? null : new Set(values));
    workflows.push({
      name: input.name,
      triggers: new Set(input.on),
      conditions: {
        entities: set(input.if.entity),
        severities: set(input.if.severity),
        minSeverity: input.if.min_severity ?? null,
        apps: set(input.if.app),
        services: set(input.if.service),
        titleContains: input.if.title_contains?.toLowerCase() ?? null,
        liquid: input.if.liquid === undefined ? null : compileTemplate(liquid.conditions, input.if.liquid, `${where}: if.liquid`, fail),
      },
      cooldownMinutes: input.cooldown_minutes ?? (acting ? DEFAULT_ACTING_COOLDOWN_MINUTES : 0),
      actions,
      source: item,
    });
  });
  return { file, workflows, all, liquid };
}

function compileAction(raw: unknown, where: string, slackLiquid: Liquid, commandLiquid: Liquid): WorkflowAction {
  const fail = (message: string) => new WorkflowConfigError(`${where}: ${message}`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || Object.keys(raw).length !== 1) {
    throw fail(`an action is an object with one key, the action's name (one of ${WORKFLOW_ACTIONS.join(', ')})`);
  }
  const [name, params] = Object.entries(raw)[0]!;
  if (!(WORKFLOW_ACTIONS as readonly string[]).includes(name)) throw fail(`unknown action ${JSON.stringify(name)} (one of ${WORKFLOW_ACTIONS.join(', ')})`);
  const kind = name as WorkflowActionName;
  const parsed = ACTION_SCHEMAS[kind].safeParse(params ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') throw fail(`${kind}: unknown key ${issue.keys.join(', ')}`);
    throw fail(`${kind}: ${field ? `${field} ` : ''}${issue.message}`);
  }
  switch (kind) {
    case 'heroku.run': {
      const run = parsed.data as z.output<(typeof ACTION_SCHEMAS)['heroku.run']>;
      // The run command's own checks (the shell it may use, values as data) at start-up, not at 3 a.m.
      try {
        renderCommand(commandLiquid, run.command, {});
      } catch (error) {
        if (error instanceof CommandTemplateError) throw fail(`heroku.run: command ${error.message}`);
        throw error;
      }
      return { kind, command: run.command, dynoSize: run.dyno_size, timeToLive: run.time_to_live, slackChannels: run.slack_channels };
    }
    case 'heroku.restart': {
      const restart = parsed.data as z.output<(typeof ACTION_SCHEMAS)['heroku.restart']>;
      return { kind, dyno: restart.dyno ?? null, processType: restart.process_type ?? null, all: restart.all === true };
    }
    case 'slack.post': {
      const post = parsed.data as z.output<(typeof ACTION_SCHEMAS)['slack.post']>;
      return { kind, channel: post.channel ?? null, text: compileTemplate(slackLiquid, post.text, `${where}: slack.post: text`, (message) => new WorkflowConfigError(message)) };
    }
    case 'incident.set_severity':
      return { kind, severity: (parsed.data as { severity: (typeof SEVERITIES)[number] }).severity };
    default:
      return { kind } as WorkflowAction;
  }
}

/** `<configDir>/workflows.yaml`, or none when the folder has no such file. */
export function loadWorkflows(configDir: string): WorkflowSet {
  const file = path.join(configDir, 'workflows.yaml');
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return compileWorkflows('workflows: []\n', `${file} (absent: no workflows)`);
    throw new WorkflowConfigError(`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return compileWorkflows(source, file);
}
