import { Liquid } from 'liquidjs';

/**
 * The one Liquid engine for rules: strict about filters (a typo fails at start-up), lenient
 * about missing payload fields (they render empty), no file system access. Output is plain
 * text: whoever displays it (Slack, HTML) escapes it there.
 */
export function createRuleLiquid(): Liquid {
  const liquid = new Liquid({ strictFilters: true, strictVariables: false, ownPropertyOnly: true, relativeReference: false, cache: false });
  liquid.registerFilter('short_sha', (value: unknown) => (typeof value === 'string' ? value.slice(0, 7) : value));
  liquid.registerFilter('short_id', (value: unknown) => (typeof value === 'string' ? value.slice(0, 8) : value));
  return liquid;
}
