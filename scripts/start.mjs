// `npm start`: the one command for a new user. Installs if needed, builds, migrates the
// database, then runs the API and the worker together until stopped (Ctrl-C or SIGTERM).
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { WORKER_NODE_FLAGS, ensureInstalled, root, run, start } from './lib.mjs';

const envFile = `${root}/.env`;
if (!existsSync(envFile) && !process.env.ADMIN_TOKEN && !process.env.SECRET_KEY) {
  const adminToken = `pb_${randomBytes(32).toString('base64url')}`;
  writeFileSync(
    envFile,
    `# Created by npm start on first run. Keep it secret; see README for every setting.\nADMIN_TOKEN=${adminToken}\nSECRET_KEY=${randomBytes(32).toString('hex')}\n`,
    { mode: 0o600 },
  );
  console.log(`created .env with a new ADMIN_TOKEN and SECRET_KEY\nadmin token: ${adminToken}`);
}
if (existsSync(envFile)) process.loadEnvFile(envFile);

ensureInstalled();
run('npm', ['run', '--silent', 'build']);
run('node', ['packages/core/dist/cli/migrate.js']);

const children = [start('node', ['apps/api/dist/main.js']), start('node', [...WORKER_NODE_FLAGS, 'apps/worker/dist/main.js'])];
let stopping = false;
const stopAll = (signal) => {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
};
process.on('SIGINT', () => stopAll('SIGTERM'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
let exitCode = 0;
await Promise.all(
  children.map(
    (child) =>
      new Promise((resolve) =>
        child.on('exit', (code) => {
          // One process ending stops the other: pulsebridge is both or nothing.
          if (!stopping) exitCode = code ?? 1;
          stopAll('SIGTERM');
          resolve();
        }),
      ),
  ),
);
process.exit(exitCode);
