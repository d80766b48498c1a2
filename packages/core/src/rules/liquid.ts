import { Liquid } from 'liquidjs';
import { registerCommonFilters } from '../config-files.js';

/**
 * The one Liquid engine for rules: strict about filters (a typo fails at start-up), lenient
 * about missing payload fields (they render empty), no file system access. Output is plain
 * text: whoever displays it (Slack, HTML) escapes it there.
 */
export function createRuleLiquid(): Liquid {
  return registerCommonFilters(new Liquid({ strictFilters: true, strictVariables: false, ownPropertyOnly: true, relativeReference: false, cache: false }));
}
