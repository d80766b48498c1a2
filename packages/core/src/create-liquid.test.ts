import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Liquid } from 'liquidjs';
import { afterAll, describe, expect, it } from 'vitest';
import { createViewEngine } from '../../../apps/api/src/ui/views.js';
import { createLiquid, isTemplateLimitError, TEMPLATE_LIMITS } from './create-liquid.js';
import { createCommandLiquid, renderCommand } from './heroku/run-command.js';
import { createRuleLiquid } from './rules/liquid.js';
import { createSlackLiquid } from './slack/message-templates.js';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

// A config folder with a partial, a file that is not a partial, and a link out of it; a secret beside it.
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-liquid-'));
const configDir = path.join(tmp, 'config');
mkdirSync(configDir);
writeFileSync(path.join(tmp, '.env'), 'SECRET_KEY=leaked\n');
writeFileSync(path.join(tmp, 'outside.liquid'), 'SECRET_KEY=leaked');
writeFileSync(path.join(configDir, 'greeting.liquid'), 'hello {{ name }}');
writeFileSync(path.join(configDir, 'notes.txt'), 'SECRET_KEY=leaked');
symlinkSync(path.join(tmp, 'outside.liquid'), path.join(configDir, 'linked.liquid'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Engine {
  name: string;
  render: (template: string) => string;
  /** Partials the engine may read: none, or `greeting` from the config folder. */
  partials: boolean;
}

const plain = (liquid: Liquid) => (template: string) => String(liquid.parseAndRenderSync(template, { name: 'you' }));
const command = createCommandLiquid();

/** Every engine factory in the code base (the scan below makes sure no other exists). */
const engines: Engine[] = [
  { name: 'run commands', render: (template) => renderCommand(command, template, { name: 'you' }).command, partials: false },
  { name: 'rules without a config folder', render: plain(createRuleLiquid()), partials: false },
  { name: 'rules', render: plain(createRuleLiquid(configDir)), partials: true },
  { name: 'Slack without a config folder', render: plain(createSlackLiquid()), partials: false },
  { name: 'Slack', render: plain(createSlackLiquid(configDir)), partials: true },
  { name: 'UI views', render: plain(createViewEngine()), partials: false },
];

const refuses = (engine: Engine, template: string) => {
  let output: string | undefined;
  try {
    output = engine.render(template);
  } catch (error) {
    expect((error as Error).message).not.toContain('leaked');
    return error as Error;
  }
  throw new Error(`${engine.name} rendered ${JSON.stringify(template)} as ${JSON.stringify(output)}`);
};

describe.each(engines)('the $name engine', (engine) => {
  const secret = path.join(tmp, '.env');
  it.each([
    `{% include '${secret}' %}`,
    `{% render '${secret}' %}`,
    `{% layout '${secret}' %}`,
    `{% include '.env' %}`,
    `{% include '../.env' %}`,
    `{% include '../../../../../../../${secret}' %}`,
    `{% include 'notes.txt' %}`,
    `{% render 'linked' %}`,
    `{% liquid\ninclude '${secret}'\n%}`,
    `{% assign f = '${secret}' %}{% include f %}`,
  ])('reads no file outside its partials: %s', (template) => {
    const error = refuses(engine, template);
    const tag = /\{%-?\s*(?:liquid\s+)?(\w+)/.exec(template.replace(/^\{% assign[^%]*%\}/, ''))?.[1];
    // Engines without files name the tag they refuse.
    if (!engine.partials && engine.name !== 'UI views') expect(error.message).toContain(`the "${tag}" tag is not allowed`);
  });

  it('reads `.liquid` partials from its config folder only when it has one', () => {
    if (engine.partials) {
      expect(engine.render(`{% render 'greeting', name: name %} / {% include 'greeting' %}`)).toBe('hello you / hello you');
    } else {
      refuses(engine, `{% render 'greeting' %}`);
    }
  });

  it.each([
    ['a huge loop', '{% for i in (1..30000000) %}{% endfor %}'],
    ['nested loops', '{% for a in (1..3000) %}{% for b in (1..3000) %}{% for c in (1..3000) %}{% endfor %}{% endfor %}{% endfor %}'],
    ['a string doubled into gigabytes', "{% assign s = 'xxxxxxxxxx' %}{% for i in (1..30) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}"],
    ['output of a plain loop', `{% for i in (1..3000000) %}${'x'.repeat(64)}{% endfor %}`],
    ['output doubled by captures', `{% capture c %}${'x'.repeat(64)}{% endcapture %}{% for i in (1..40) %}{% capture c %}{{ c }}{{ c }}{% endcapture %}{% endfor %}done`],
    ['a template too long to parse', `${'x'.repeat(TEMPLATE_LIMITS.views.parseLimit)}{{ name }}`],
  ])('refuses %s with a limit error', (_, template) => {
    const error = refuses(engine, template);
    expect(isTemplateLimitError(error) || /exceeds the limits/.test(error.message), error.message).toBe(true);
  });
});

describe('createLiquid', () => {
  it('bounds output even where LiquidJS counts nothing', () => {
    const liquid = createLiquid({ files: 'none', limits: { parseLimit: 1000, renderLimit: 10_000, memoryLimit: 1e9, outputLimit: 100 } });
    expect(liquid.parseAndRenderSync('{% for i in (1..10) %}xxxxxxxxxx{% endfor %}')).toHaveLength(100);
    expect(() => liquid.parseAndRenderSync('{% for i in (1..11) %}xxxxxxxxxx{% endfor %}')).toThrow(/output limit exceeded \(100 characters\)/);
  });

  it('is the only place an engine is made', () => {
    const sources = ['apps', 'packages'].flatMap((top) =>
      readdirSync(path.join(REPO, top)).flatMap((workspace) => walk(path.join(REPO, top, workspace, 'src'))),
    );
    expect(sources.length).toBeGreaterThan(20);
    const offenders = sources.filter((file) => !file.endsWith(`${path.sep}create-liquid.ts`) && /new\s+Liquid\s*\(/.test(readFileSync(file, 'utf8')));
    expect(offenders.map((file) => path.relative(REPO, file))).toEqual([]);
  });
});

function walk(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const file = path.join(dir, entry);
    if (entry === 'generated' || entry === 'node_modules') return [];
    if (statSync(file).isDirectory()) return walk(file);
    return /\.(ts|js|mjs)$/.test(entry) ? [file] : [];
  });
}
