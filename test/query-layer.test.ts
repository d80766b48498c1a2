import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** Every TypeScript source file under `dir`, tests left out. */
function sources(dir: string): string[] {
  return readdirSync(path.join(repo, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
    .map((entry) => path.relative(repo, path.join(entry.parentPath, entry.name)));
}

describe('one query layer', () => {
  it('REST routes and web UI pages read and write the database only through packages/core', () => {
    const models = /\b(?:prisma|db|tx)\s*\.\s*(?:apiToken|event|herokuIntegration|managedWebhook|service|incident|incidentKey|appliedRule|incidentService|timelineEntry|pulse|pulseService|slackMessage|actionRun)\s*\./;
    const raw = /\b(?:pool|client|db)\s*\.\s*query\s*[(<]|\$queryRaw|\$executeRaw/;
    const offenders = [...sources('apps/api/src/routes'), ...sources('apps/api/src/ui')].flatMap((file) =>
      readFileSync(path.join(repo, file), 'utf8')
        .split('\n')
        .flatMap((line, index) => (models.test(line) || raw.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [])),
    );
    expect(offenders, 'move these reads and writes into a packages/core module named after what it holds').toEqual([]);
  });
});
