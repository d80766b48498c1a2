import { z } from 'zod';
import type { Severity } from '../generated/prisma/enums.js';

/** Most severe first. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const satisfies readonly Severity[];

/**
 * A rule's severity: a Liquid template, or a plain word that must then be a severity (a typo
 * like `urgent` fails at start-up instead of failing every event the rule matches).
 */
export const SeverityTemplateSchema = z
  .string()
  .min(1)
  .refine((text) => text.includes('{') || (SEVERITIES as readonly string[]).includes(text.trim()), { error: `must be one of ${SEVERITIES.join(', ')} (or a Liquid template rendering one)` });
