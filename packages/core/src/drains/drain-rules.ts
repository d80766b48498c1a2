import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Liquid, Template } from 'liquidjs';
import { z } from 'zod';
import { compileTemplate, parseConfigYaml, readPresetRules } from '../config-files.js';
import type { CompiledRule } from '../rules/rule-set.js';
import { SeverityTemplateSchema } from '../rules/severity.js';
import { DRAIN_SIGNALS, HTTP_5XX, type DrainSignalName } from './signals.js';

/** Drain rule sets shipped in `config/presets/<name>.yaml` that `drains.yaml` can select. */
export const DRAIN_PRESETS = ['log-drains'] as const;
export type DrainPreset = (typeof DRAIN_PRESETS)[number];

/** Entity of incidents and archived events from drains: `log:H12`, `log:5xx`, `log:crashed`. */
export const drainEntity = (signal: string): string => `log:${signal}`;
export const isDrainEntity = (entity: string): boolean => entity.startsWith('log:');
/** Actions of drain events: a window above threshold, a quiet period that ended. */
export const DRAIN_ACTIONS = { crossed: 'crossed', quiet: 'quiet' } as const;

export const DEFAULT_QUIET_MINUTES = 10;
export const DEFAULT_MIN_REQUESTS = 20;
export const MAX_WINDOW_MINUTES = 60;
export const MAX_QUIET_MINUTES = 24 * 60;

const DEFAULT_DEDUP_KEY = 'heroku:{{ app_name }}:{{ signal.process_type }}:log:{{ signal.code }}';
const DEFAULT_COUNT_TITLE =
  '{{ signal.code }} {{ signal.description }} on {{ app_name }} ({{ signal.process_type }}): {{ signal.count }} in {{ signal.window_minutes }} min';
const DEFAULT_SHARE_TITLE =
  '{{ signal.description }} on {{ app_name }} ({{ signal.process_type }}): {{ signal.percent }}% of {{ signal.requests }} requests in {{ signal.window_minutes }} min';
/** What the resolution of a quiet drain incident says (after "Resolved: "). */
const QUIET_MESSAGE =
  'quiet for {{ signal.quiet_minutes }} min: {{ signal.code }} on {{ signal.process_type }} stayed below the threshold after the window that ended {{ signal.window_end }}';
/** The rule name drain incidents are resolved under when they go quiet. */
export const QUIET_RULE = 'drain-quiet';

/** A drain rule as evaluated against the windows (the incident side is in `incidentRules`). */
export interface DrainRule {
  name: string;
  signal: DrainSignalName;
  /** Null: every process type. */
  processTypes: ReadonlySet<string> | null;
  /** `count`: threshold is a count; `share`: a percentage of requests (5xx only). */
  measure: 'count' | 'share';
  threshold: number;
  minRequests: number;
  windowMinutes: number;
  quietMinutes: number;
}

export interface DrainRuleSet {
  file: string;
  preset: DrainPreset | null;
  /** Enabled rules only. */
  rules: DrainRule[];
  /**
   * What `mapEvent` runs for drain events: per enabled rule its trigger (`crossed`), and one
   * resolver for every `quiet` event, which resolves the incident the event names by its dedup
   * key (so an incident whose rule was renamed or removed since still resolves).
   */
  incidentRules: CompiledRule[];
}

const name = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'must be lowercase letters, digits and dashes' });
const minutes = (max: number) => z.number().int().min(1).max(max);

const DrainRuleSchema = z
  .object({
    name,
    enabled: z.boolean().default(true),
    signal: z.enum(DRAIN_SIGNALS),
    threshold: z.union([z.number().int().min(1).max(1_000_000), z.string().regex(/^\d{1,3}(\.\d+)?%$/, { error: 'a share is written like 10%' })]),
    min_requests: z.number().int().min(1).max(1_000_000).optional(),
    window_minutes: minutes(MAX_WINDOW_MINUTES),
    process_types: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,40}$/)).min(1).optional(),
    severity: SeverityTemplateSchema,
    quiet_minutes: minutes(MAX_QUIET_MINUTES).optional(),
    title: z.string().min(1).optional(),
    dedup_key: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((rule, context) => {
    const share = typeof rule.threshold === 'string';
    if (share && rule.signal !== HTTP_5XX) context.addIssue({ code: 'custom', path: ['threshold'], message: `a share applies to signal 5xx only; ${rule.signal} takes a count` });
    if (!share && rule.signal === HTTP_5XX) context.addIssue({ code: 'custom', path: ['threshold'], message: 'signal 5xx takes a share of requests, like 10%' });
    if (share && (Number.parseFloat(rule.threshold as string) <= 0 || Number.parseFloat(rule.threshold as string) > 100)) {
      context.addIssue({ code: 'custom', path: ['threshold'], message: 'a share is more than 0% and at most 100%' });
    }
    if (rule.min_requests !== undefined && rule.signal !== HTTP_5XX) context.addIssue({ code: 'custom', path: ['min_requests'], message: 'applies to signal 5xx only' });
  });

type DrainRuleInput = z.output<typeof DrainRuleSchema>;

const DrainsFileSchema = z
  .object({
    preset: z.enum(DRAIN_PRESETS).optional(),
    quiet_minutes: minutes(MAX_QUIET_MINUTES).optional(),
    rules: z.array(z.unknown()).optional(),
  })
  .strict()
  .refine((top) => top.preset !== undefined || (top.rules !== undefined && top.rules.length > 0));

/** Invalid drain rules: the message names the file, the rule and the problem. */
export class DrainRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DrainRuleError';
  }
}

/**
 * Validates and compiles drain rules from YAML text (`file` names it in errors). A preset's
 * rules come first; the file's own rules are added, and one named like a preset rule replaces it.
 */
export function compileDrainRules(source: string, file: string, liquid: Liquid): DrainRuleSet {
  const top = DrainsFileSchema.safeParse(parseConfigYaml(source, file, (message) => new DrainRuleError(message)));
  if (!top.success) {
    const issue = top.error.issues[0]!;
    const field = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') throw new DrainRuleError(`${file}: unknown key ${issue.keys.join(', ')} (the file takes preset, quiet_minutes and rules)`);
    throw new DrainRuleError(
      field ? `${file}: ${field} ${issue.message}` : `${file}: expected \`preset:\` naming one of ${DRAIN_PRESETS.join(', ')}, or a \`rules:\` list with at least one rule (or both)`,
    );
  }
  const quietDefault = top.data.quiet_minutes ?? DEFAULT_QUIET_MINUTES;
  const byName = new Map<string, { input: DrainRuleInput; where: string }>();
  const read = (from: { file: string; rules: unknown[] }, replaces: boolean) => {
    const seen = new Set<string>();
    from.rules.forEach((raw, index) => {
      const label = typeof (raw as { name?: unknown })?.name === 'string' ? `rule ${JSON.stringify((raw as { name: string }).name)}` : `rule #${index + 1}`;
      const where = `${from.file}: ${label}`;
      // `{name, enabled: false}` is enough to turn a preset's rule off.
      const off = raw as { name?: unknown; enabled?: unknown } | null;
      if (replaces && off !== null && typeof off === 'object' && off.enabled === false && typeof off.name === 'string' && byName.has(off.name) && Object.keys(off).length === 2) {
        if (seen.has(off.name)) throw new DrainRuleError(`${where}: the name is used by an earlier rule`);
        seen.add(off.name);
        byName.delete(off.name);
        return;
      }
      const parsed = DrainRuleSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = issue.path.join('.');
        throw new DrainRuleError(`${where}: ${field ? `${field} ` : ''}${issue.message}`);
      }
      if (seen.has(parsed.data.name) || (!replaces && byName.has(parsed.data.name))) throw new DrainRuleError(`${where}: the name is used by an earlier rule`);
      seen.add(parsed.data.name);
      // A rule named like a preset rule takes its place (and its position).
      byName.set(parsed.data.name, { input: parsed.data, where });
    });
  };
  if (top.data.preset !== undefined) read(readPresetRules(top.data.preset, (message) => new DrainRuleError(message)), false);
  read({ file, rules: top.data.rules ?? [] }, true);

  const rules: DrainRule[] = [];
  const incidentRules: CompiledRule[] = [];
  for (const { input, where } of byName.values()) {
    if (!input.enabled) continue;
    const rule: DrainRule = {
      name: input.name,
      signal: input.signal,
      processTypes: input.process_types ? new Set(input.process_types) : null,
      measure: typeof input.threshold === 'string' ? 'share' : 'count',
      threshold: typeof input.threshold === 'string' ? Number.parseFloat(input.threshold) : input.threshold,
      minRequests: input.min_requests ?? DEFAULT_MIN_REQUESTS,
      windowMinutes: input.window_minutes,
      quietMinutes: input.quiet_minutes ?? quietDefault,
    };
    rules.push(rule);
    const parse = (field: string, text: string): Template[] => compileTemplate(liquid, text, `${where}: ${field}`, (message) => new DrainRuleError(message));
    // Rule names are lowercase letters, digits and dashes: safe inside a Liquid string.
    const when = parse('name', `{% if signal.rule == "${input.name}" %}true{% endif %}`);
    const dedupKey = parse('dedup_key', input.dedup_key ?? DEFAULT_DEDUP_KEY);
    const entities = new Set([drainEntity(input.signal)]);
    incidentRules.push({
      name: input.name,
      entities,
      actions: new Set([DRAIN_ACTIONS.crossed]),
      when,
      incident: {
        action: 'trigger',
        severity: parse('severity', input.severity),
        dedupKey,
        title: parse('title', input.title ?? (rule.measure === 'share' ? DEFAULT_SHARE_TITLE : DEFAULT_COUNT_TITLE)),
      },
      pulse: null,
    });
  }
  const parse = (field: string, text: string): Template[] => compileTemplate(liquid, text, `built-in quiet resolver: ${field}`, (message) => new DrainRuleError(message));
  incidentRules.push({
    name: QUIET_RULE,
    entities: new Set(DRAIN_SIGNALS.map(drainEntity)),
    actions: new Set([DRAIN_ACTIONS.quiet]),
    when: null,
    incident: { action: 'resolve', dedupKey: parse('dedup_key', '{{ signal.dedup_key }}'), message: parse('message', QUIET_MESSAGE), auto: true },
    pulse: null,
  });
  return { file, preset: top.data.preset ?? null, rules, incidentRules };
}

/** What a config folder without `drains.yaml` gets: the shipped preset. */
export const DEFAULT_DRAINS_SOURCE = 'preset: log-drains\n';

/** `<configDir>/drains.yaml`, or the shipped preset when the folder has none. */
export function readDrainsFile(configDir: string): { file: string; source: string } {
  const file = path.join(configDir, 'drains.yaml');
  try {
    return { file, source: readFileSync(file, 'utf8') };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { file: `${file} (absent: preset log-drains)`, source: DEFAULT_DRAINS_SOURCE };
    throw new DrainRuleError(`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}
