// `npm test`: installs if needed, builds (type-checks every workspace), type-checks the
// tests, lints, then runs every test against the machine's PostgreSQL and Redis, and ends
// with one plain summary line.
import { readFileSync, rmSync } from 'node:fs';
import { canConnect, ensureInstalled, root, run } from './lib.mjs';

const pgUrl = new URL(process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432');
const redisUrl = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
const missing = [];
if (!(await canConnect({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) }))) {
  missing.push(`PostgreSQL is not reachable at ${pgUrl.hostname}:${pgUrl.port || 5432}: start it with \`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\` (or set TEST_PG_URL)`);
}
if (!(await canConnect({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) }))) {
  missing.push(`Redis is not reachable at ${redisUrl.hostname}:${redisUrl.port || 6379}: start it with \`redis-server --daemonize yes --bind 127.0.0.1 --port 6379\` (or set TEST_REDIS_URL)`);
}
if (missing.length > 0) {
  console.error(missing.join('\n'));
  process.exit(1);
}

ensureInstalled();
run('npm', ['run', '--silent', 'build']);
run('npx', ['--no-install', 'tsc', '-p', 'test/tsconfig.json']);
run('npm', ['run', '--silent', 'lint']);

const report = `${root}/test-results/vitest.json`;
rmSync(report, { force: true });
const extra = process.argv.slice(2);
const vitest = await import('node:child_process').then(({ spawnSync }) =>
  spawnSync('npx', ['--no-install', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra], {
    cwd: root,
    stdio: 'inherit',
  }),
);
try {
  const results = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = results.numPendingTests + results.numTodoTests;
  console.log(`\ntests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped`);
} catch {
  console.log('\ntests: 0 passed, 1 failed (no test report was written)');
  process.exit(vitest.status || 1);
}
process.exit(vitest.status ?? 1);
