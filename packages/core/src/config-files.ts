import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Liquid, Template } from 'liquidjs';
import { parse as parseYaml } from 'yaml';

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
