import type { Liquid, Template } from 'liquidjs';
import { compileWorkflows, loadWorkflows, type WorkflowSet } from '../workflows/workflow-config.js';
import { loadDefaultEscalation, type DefaultEscalation } from '../escalation/escalation-policies.js';
import { z } from 'zod';
import { compileTemplate, parseConfigYaml, readConfigFile, readPresetRules } from '../config-files.js';
import { createRuleLiquid } from './liquid.js';
import { compileDrainRules, DEFAULT_DRAINS_SOURCE, readDrainsFile, type DrainRuleSet } from '../drains/drain-rules.js';

import type { Severity } from '../generated/prisma/enums.js';

export type { Severity };
import { SEVERITIES, SeverityTemplateSchema } from './severity.js';

export { SEVERITIES };
export const PULSE_KINDS = ['build', 'release', 'deploy'] as const;
/** Rule sets shipped in `config/presets/<name>.yaml` that `rules.yaml` can select with `preset: <name>`. */
export const RULE_PRESETS = ['squadcast', 'failures-only'] as const;
export type RulePreset = (typeof RULE_PRESETS)[number];
/** The longest `auto_resolve_minutes` a rule may give: a week. */
export const MAX_AUTO_RESOLVE_MINUTES = 7 * 24 * 60;

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((value) => (Array.isArray(value) ? value : [value]));
const template = z.string();

const IncidentSchema = z.discriminatedUnion('action', [
  z
    .object({
      action: z.literal('trigger'),
      severity: SeverityTemplateSchema,
      dedup_key: template.min(1),
      title: template.min(1),
      /** Resolves the incident after this many minutes without a new alert (for incidents nothing else resolves). */
      auto_resolve_minutes: z.number().int().min(1).max(MAX_AUTO_RESOLVE_MINUTES).optional(),
    })
    .strict(),
  z.object({ action: z.literal('resolve'), dedup_key: template.min(1), message: template.optional() }).strict(),
  // An incident recorded already resolved: a change worth a record, not a page.
  z.object({ action: z.literal('note'), severity: SeverityTemplateSchema.default('info'), dedup_key: template.min(1), title: template.min(1) }).strict(),
]);

const PulseSchema = z
  .object({
    kind: z.enum(PULSE_KINDS),
    summary: template.min(1),
    dedup_key: template.min(1),
    status: template.optional(),
    version: template.optional(),
    commit_sha: template.optional(),
    actor_email: template.optional(),
    external_id: template.optional(),
    correlation_id: template.optional(),
    fields: z.record(z.string(), template).optional(),
  })
  .strict();

const RuleSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'must be lowercase letters, digits and dashes' }),
    entity: oneOrMany,
    action: oneOrMany.optional(),
    when: z.string().min(1).optional(),
    incident: IncidentSchema.optional(),
    pulse: PulseSchema.optional(),
  })
  .strict()
  .refine((rule) => rule.incident !== undefined || rule.pulse !== undefined, { error: 'needs an `incident` or a `pulse`' });

const RulesFileSchema = z
  .object({ preset: z.enum(RULE_PRESETS).optional(), rules: z.array(z.unknown()).min(1).optional() })
  .strict()
  .refine((top) => top.preset !== undefined || top.rules !== undefined);

type RuleInput = z.output<typeof RuleSchema>;

/** A rule with its templates parsed once. */
export interface CompiledRule {
  name: string;
  entities: ReadonlySet<string>;
  actions: ReadonlySet<string> | null;
  when: Template[] | null;
  incident:
    | { action: 'trigger'; severity: Template[]; dedupKey: Template[]; title: Template[]; autoResolveMinutes?: number }
    | { action: 'resolve'; dedupKey: Template[]; message: Template[] | null; /** Resolved by pulsebridge itself (a quiet period). */ auto?: boolean }
    | { action: 'note'; severity: Template[]; dedupKey: Template[]; title: Template[] }
    | null;
  pulse: {
    kind: (typeof PULSE_KINDS)[number];
    summary: Template[];
    dedupKey: Template[];
    status: Template[] | null;
    version: Template[] | null;
    commitSha: Template[] | null;
    actorEmail: Template[] | null;
    externalId: Template[] | null;
    correlationId: Template[] | null;
    fields: [string, Template[]][];
  } | null;
}

export interface RuleSet {
  file: string;
  /** The preset `file` selects, whose rules come first; null when it selects none. */
  preset: RulePreset | null;
  rules: CompiledRule[];
  /** Drain rules (`drains.yaml`): their thresholds, and their incident side for drain events. */
  drains: DrainRuleSet;
  /** Workflows (`workflows.yaml`): what runs by itself when incidents and pulses change. */
  workflows: WorkflowSet;
  /** The escalation of incidents none of whose services has a policy (`escalation.yaml`). */
  escalation: DefaultEscalation;
  liquid: Liquid;
}

/** Invalid rules: the message names the file, the rule and the problem. */
export class RuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleError';
  }
}

function compileRule(liquid: Liquid, rule: RuleInput, where: string): CompiledRule {
  const parse = (field: string, source: string): Template[] => compileTemplate(liquid, source, `${where}: ${field}`, (message) => new RuleError(message));
  const optional = (field: string, source: string | undefined) => (source === undefined ? null : parse(field, source));
  const incident = rule.incident;
  const pulse = rule.pulse;
  return {
    name: rule.name,
    entities: new Set(rule.entity),
    actions: rule.action ? new Set(rule.action) : null,
    when: rule.when === undefined ? null : parse('when', `{% if ${rule.when} %}true{% endif %}`),
    incident:
      incident === undefined
        ? null
        : incident.action === 'trigger' || incident.action === 'note'
          ? {
              action: incident.action,
              severity: parse('incident.severity', incident.severity),
              dedupKey: parse('incident.dedup_key', incident.dedup_key),
              title: parse('incident.title', incident.title),
              ...(incident.action === 'trigger' && incident.auto_resolve_minutes !== undefined && { autoResolveMinutes: incident.auto_resolve_minutes }),
            }
          : { action: 'resolve', dedupKey: parse('incident.dedup_key', incident.dedup_key), message: optional('incident.message', incident.message) },
    pulse:
      pulse === undefined
        ? null
        : {
            kind: pulse.kind,
            summary: parse('pulse.summary', pulse.summary),
            dedupKey: parse('pulse.dedup_key', pulse.dedup_key),
            status: optional('pulse.status', pulse.status),
            version: optional('pulse.version', pulse.version),
            commitSha: optional('pulse.commit_sha', pulse.commit_sha),
            actorEmail: optional('pulse.actor_email', pulse.actor_email),
            externalId: optional('pulse.external_id', pulse.external_id),
            correlationId: optional('pulse.correlation_id', pulse.correlation_id),
            fields: Object.entries(pulse.fields ?? {}).map(([key, source]) => [key, parse(`pulse.fields.${key}`, source)] as [string, Template[]]),
          },
  };
}

/**
 * Validates and compiles rules from YAML text; `file` is only used in error messages. Templates
 * may use partials from `configDir` (none without it).
 */
export function compileRules(source: string, file: string, configDir?: string, drainsFile: { source: string; file: string } = { source: DEFAULT_DRAINS_SOURCE, file: 'drains.yaml' }): RuleSet {
  const top = RulesFileSchema.safeParse(parseConfigYaml(source, file, (message) => new RuleError(message)));
  if (!top.success) {
    throw new RuleError(`${file}: expected a top-level \`rules:\` list with at least one rule, or \`preset:\` naming one of ${RULE_PRESETS.join(', ')} (or both)`);
  }
  const liquid = createRuleLiquid(configDir);
  const names = new Set<string>();
  // A preset's rules first, then the file's own.
  const sources = [...(top.data.preset === undefined ? [] : [readPresetRules(top.data.preset, (message) => new RuleError(message))]), { file, rules: top.data.rules ?? [] }];
  const rules = sources.flatMap((from) => from.rules.map((raw, index) => {
    const label = typeof (raw as { name?: unknown })?.name === 'string' ? `rule ${JSON.stringify((raw as { name: string }).name)}` : `rule #${index + 1}`;
    const where = `${from.file}: ${label}`;
    const parsed = RuleSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.');
      throw new RuleError(`${where}: ${field ? `${field} ` : ''}${issue.message}`);
    }
    if (names.has(parsed.data.name)) throw new RuleError(`${where}: the name is used by an earlier rule`);
    names.add(parsed.data.name);
    return compileRule(liquid, parsed.data, where);
  }));
  return { file, preset: top.data.preset ?? null, rules, drains: compileDrainRules(drainsFile.source, drainsFile.file, liquid), workflows: NO_WORKFLOWS(), escalation: { file: 'escalation.yaml', policy: null }, liquid };
}

/**
 * Loads `<configDir>/rules.yaml` and `drains.yaml` (the shipped drain preset when the folder has
 * none); start-up fails with a RuleError or DrainRuleError naming what is wrong.
 */
export async function loadRuleSet(configDir: string): Promise<RuleSet> {
  const { file, source } = await readConfigFile(configDir, 'rules.yaml', (message) => new RuleError(`${message}; set CONFIG_DIR to a folder with rules.yaml`));
  return { ...compileRules(source, file, configDir, readDrainsFile(configDir)), workflows: loadWorkflows(configDir), escalation: loadDefaultEscalation(configDir) };
}

/** A rule set made from text alone has no workflows. */
const NO_WORKFLOWS = () => compileWorkflows('workflows: []\n', 'workflows.yaml');
