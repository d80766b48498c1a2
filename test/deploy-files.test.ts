import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// app.json (the Heroku button) and docker-compose.yml say what README says.
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const read = (file: string) => readFileSync(path.join(repo, file), 'utf8');
const readme = read('README.md');
const appJson = JSON.parse(read('app.json')) as { env: Record<string, { description: string; required?: boolean; value?: string; generator?: string }> };
const compose = read('docker-compose.yml');

/** The variables of a document's first `| variable | default | meaning |` table (first column). */
const variablesOf = (text: string) => {
  const table = text.slice(text.indexOf('| variable | default | meaning |'));
  const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
  return rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));
};
/** README's configuration table and the tuning table of docs/operations.md it points to. */
const documented = () => [...variablesOf(readme), ...variablesOf(read('docs/operations.md').slice(read('docs/operations.md').indexOf('## Tuning')))];

describe('app.json', () => {
  it('lets the first deploy go through without PUBLIC_URL', () => {
    const publicUrl = appJson.env.PUBLIC_URL;
    expect(publicUrl === undefined || publicUrl.required === false || publicUrl.value !== undefined).toBe(true);
  });

  it('asks for the Slack scopes README lists', () => {
    const scopes = (text: string) => [...new Set(text.match(/\b(?:chat|channels|groups|files):[a-z]+\b/g))].sort();
    const slackSection = readme.slice(readme.indexOf('## Slack\n\n') + '## Slack\n\n'.length);
    const readmeScopes = scopes(slackSection.slice(0, slackSection.indexOf('\n\n')));
    expect(readmeScopes.length).toBeGreaterThan(2);
    expect(scopes(appJson.env.SLACK_BOT_TOKEN!.description)).toEqual(readmeScopes);
    // Run output is uploaded with Slack's file methods; the manifest users paste asks for the same scopes.
    expect(readmeScopes).toContain('files:write');
    const manifest = /```yaml\n([\s\S]*?)```/.exec(read('docs/slack.md'))?.[1] ?? '';
    expect(scopes(manifest)).toEqual(readmeScopes);
  });
});

describe('docker-compose.yml', () => {
  it('passes every variable README documents to the app', () => {
    const block = compose.slice(compose.indexOf('x-app-environment:'), compose.indexOf('\nservices:'));
    const passed = new Set([...block.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!));
    const variables = documented();
    expect(variables.length).toBeGreaterThan(30);
    expect(variables.filter((name) => !passed.has(name))).toEqual([]);
  });

  it('is a valid compose file (when docker-compose is installed)', () => {
    if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status !== 0) return;
    const config = execFileSync('docker-compose', ['config'], { cwd: repo, encoding: 'utf8', env: { PATH: process.env.PATH, ADMIN_TOKEN: 'x'.repeat(16), SECRET_KEY: 'a'.repeat(64), SLACK_CONCURRENCY: '3' } });
    expect(config).toMatch(/SLACK_CONCURRENCY: '3'/);
  });
});
