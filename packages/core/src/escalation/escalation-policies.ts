import { z } from 'zod';
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
  return policy === null ? null : { minSeverity: policy.minSeverity, levels: policy.levels as unknown as EscalationLevel[], repeatEveryMinutes: policy.repeatEveryMinutes, updatedAt: policy.updatedAt };
}

/** Sets a service's policy (replacing any); incidents already escalating follow the new levels. */
export async function putEscalationPolicy(db: Db, serviceId: string, input: EscalationPolicyInput) {
  const service = await db.service.findUnique({ where: { id: serviceId }, select: { id: true } });
  if (!service) throw new AppError('not_found', 'no service has this id');
  const data = { minSeverity: input.minSeverity, levels: input.levels, repeatEveryMinutes: input.repeatEveryMinutes ?? null, updatedAt: new Date() };
  await db.escalationPolicy.upsert({ where: { serviceId }, create: { serviceId, ...data }, update: data });
  return findEscalationPolicy(db, serviceId);
}

/** Removes a service's policy; its incidents stop escalating. */
export async function deleteEscalationPolicy(db: Db, serviceId: string): Promise<void> {
  const service = await db.service.findUnique({ where: { id: serviceId }, select: { id: true } });
  if (!service) throw new AppError('not_found', 'no service has this id');
  await db.escalationPolicy.deleteMany({ where: { serviceId } });
}
