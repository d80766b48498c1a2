import type { Liquid } from 'liquidjs';
import { registerCommonFilters } from '../config-files.js';
import { createLiquid, TEMPLATE_LIMITS } from '../create-liquid.js';

/**
 * The one Liquid engine for rules: strict about filters (a typo fails at start-up), lenient
 * about missing payload fields (they render empty), with the config limits. Partials are
 * `.liquid` files in the config folder when one is given, no other file. Output is plain
 * text: whoever displays it (Slack, HTML) escapes it there.
 */
export function createRuleLiquid(configDir?: string): Liquid {
  return registerCommonFilters(createLiquid({ files: configDir === undefined ? 'none' : { root: configDir }, limits: TEMPLATE_LIMITS.config }));
}
