import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Liquid, Template } from 'liquidjs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

/**
 * What every file in CONFIG_DIR shares: reading it, parsing its YAML and compiling its Liquid
 * templates, each failure reported as one line naming the file (and the template).
 */
export async function readConfigFile(configDir: string, name: string, fail: (message: string) => Error): Promise<{ file: string; source: string }> {
  const file = path.join(configDir, name);
  try {
    return { file, source: await readFile(file, 'utf8') };
  } catch (error) {
    throw fail(`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** Presets ship with pulsebridge in `config/presets`, whatever CONFIG_DIR is. */
export const PRESETS_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../config/presets');

/** A shipped preset's `rules:` list (`<PRESETS_DIR>/<name>.yaml`), read at start-up. */
export function readPresetRules(preset: string, fail: (message: string) => Error): { file: string; rules: unknown[] } {
  const file = path.join(PRESETS_DIR, `${preset}.yaml`);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    throw fail(`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); preset ${preset} ships with pulsebridge in config/presets`);
  }
  const top = parseConfigYaml(source, file, fail) as { rules?: unknown } | null;
  const keys = top !== null && typeof top === 'object' ? Object.keys(top) : [];
  if (!Array.isArray(top?.rules) || top.rules.length === 0 || keys.length !== 1) throw fail(`${file}: expected a top-level \`rules:\` list with at least one rule`);
  return { file, rules: top.rules };
}

export function parseConfigYaml(source: string, file: string, fail: (message: string) => Error): unknown {
  try {
    return parseYaml(source);
  } catch (error) {
    throw fail(`${file}: not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** Parses one template; `where` names it in the error (`<file>: rule "x": incident.title`). */
export function compileTemplate(liquid: Liquid, source: string, where: string, fail: (message: string) => Error): Template[] {
  try {
    return liquid.parse(source);
  } catch (error) {
    throw fail(`${where}: ${(error as Error).message.replace(/, file:.*$/, '')}`);
  }
}

/** Filters every template language of pulsebridge has, besides Liquid's own. */
export function registerCommonFilters(liquid: Liquid): Liquid {
  liquid.registerFilter('short_sha', (value: unknown) => (typeof value === 'string' ? value.slice(0, 7) : value));
  liquid.registerFilter('short_id', (value: unknown) => (typeof value === 'string' ? value.slice(0, 8) : value));
  return liquid;
}

/** A config value written back as YAML (the UI shows workflows as their file has them). */
export function toYaml(value: unknown): string {
  return stringifyYaml(value, { lineWidth: 0 });
}
