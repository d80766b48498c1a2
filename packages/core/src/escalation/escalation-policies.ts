import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseConfigYaml } from '../config-files.js';
import type { Db } from '../db/client.js';
import { AppError } from '../errors.js';
import { SEVERITIES } from '../rules/severity.js';

/**
 * A Slack user (U…, W…) or user group (S…) id, as Slack writes them. Admins give ids, never
 * names, and nothing from a payload is ever one: a mention can only name whom an admin chose.
 */
export const SlackTargetSchema = z.string().regex(/^[UWS][A-Z0-9]{2,20}$/, { error: 'is not a Slack user id (U…, W…) or user group id (S…)' });

export const EscalationPolicySchema = z.object({
  /** Incidents at or above this severity escalate. */
  minSeverity: z.enum(SEVERITIES),
  levels: z
    .array(
      z.object({
        targets: z.array(SlackTargetSchema).min(1).max(20),
        /** Minutes to wait for an acknowledgement after this level is mentioned, before the next. */
        delayMinutes: z.number().int().min(1).max(24 * 60),
      }).strict(),
    )
    .min(1)
    .max(10),
  /** Mention the last level again this often until someone acknowledges; absent: once. */
  repeatEveryMinutes: z.number().int().min(1).max(24 * 60).nullable().optional(),
  /** Also tell each mentioned user (not a group) in a direct message. */
  directMessages: z.boolean().default(false),
}).strict();
export type EscalationPolicyInput = z.output<typeof EscalationPolicySchema>;

export interface EscalationLevel {
  targets: string[];
  delayMinutes: number;
}

/** A service's policy as the API shows it, or null. */
export async function findEscalationPolicy(db: Db, serviceId: string) {
  const service = await db.service.findUnique({ where: { id: serviceId }, select: { id: true, escalationPolicy: true } });
  if (!service) throw new AppError('not_found', 'no service has this id');
  const policy = service.escalationPolicy;
  return policy === null
    ? null
    : { minSeverity: policy.minSeverity, levels: policy.levels as unknown as EscalationLevel[], repeatEveryMinutes: policy.repeatEveryMinutes, directMessages: policy.directMessages, updatedAt: policy.updatedAt };
}

/** Sets a service's policy (replacing any); incidents already escalating follow the new levels. */
export async function putEscalationPolicy(db: Db, serviceId: string, input: EscalationPolicyInput) {
  const service = await db.service.findUnique({ where: { id: serviceId }, select: { id: true } });
  if (!service) throw new AppError('not_found', 'no service has this id');
  const data = { minSeverity: input.minSeverity, levels: input.levels, repeatEveryMinutes: input.repeatEveryMinutes ?? null, directMessages: input.directMessages, updatedAt: new Date() };
  await db.escalationPolicy.upsert({ where: { serviceId }, create: { serviceId, ...data }, update: data });
  return findEscalationPolicy(db, serviceId);
}

/** Removes a service's policy; its incidents stop escalating. */
export async function deleteEscalationPolicy(db: Db, serviceId: string): Promise<void> {
  const service = await db.service.findUnique({ where: { id: serviceId }, select: { id: true } });
  if (!service) throw new AppError('not_found', 'no service has this id');
  await db.escalationPolicy.deleteMany({ where: { serviceId } });
}

/** `escalation.yaml`: the policy of incidents none of whose services has one. */
const EscalationFileSchema = z
  .object({
    default: z
      .object({
        min_severity: z.enum(SEVERITIES),
        levels: z.array(z.object({ targets: z.array(SlackTargetSchema).min(1).max(20), delay_minutes: z.number().int().min(1).max(24 * 60) }).strict()).min(1).max(10),
        repeat_every_minutes: z.number().int().min(1).max(24 * 60).optional(),
        direct_messages: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Invalid `escalation.yaml`: the message names the file and the field. */
export class EscalationConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EscalationConfigError';
  }
}

export interface DefaultEscalation {
  file: string;
  /** Null: incidents without a service policy mention nobody. */
  policy: { minSeverity: (typeof SEVERITIES)[number]; levels: EscalationLevel[]; repeatEveryMinutes: number | null; directMessages: boolean } | null;
}

/** Reads `<configDir>/escalation.yaml` (none when the folder has no such file). */
export function loadDefaultEscalation(configDir: string): DefaultEscalation {
  const file = path.join(configDir, 'escalation.yaml');
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { file: `${file} (absent: no default)`, policy: null };
    throw new EscalationConfigError(`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return compileDefaultEscalation(source, file);
}

export function compileDefaultEscalation(source: string, file: string): DefaultEscalation {
  const parsed = EscalationFileSchema.safeParse(parseConfigYaml(source, file, (message) => new EscalationConfigError(message)) ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    if (issue.code === 'unrecognized_keys') throw new EscalationConfigError(`${file}: ${field ? `${field}: ` : ''}unknown key ${issue.keys.join(', ')}`);
    throw new EscalationConfigError(`${file}: ${field ? `${field} ` : ''}${issue.message}`);
  }
  const policy = parsed.data.default;
  return {
    file,
    policy:
      policy === undefined
        ? null
        : {
            minSeverity: policy.min_severity,
            levels: policy.levels.map((level) => ({ targets: level.targets, delayMinutes: level.delay_minutes })),
            repeatEveryMinutes: policy.repeat_every_minutes ?? null,
            directMessages: policy.direct_messages ?? false,
          },
  };
}
