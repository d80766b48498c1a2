// `npm start`: the one command for a new user. Checks the config and that PostgreSQL and Redis
// answer, installs if needed, builds, migrates the database, then runs the API and the worker
// together until stopped (Ctrl-C or SIGTERM).
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkEnv, checkServices } from './check-config.mjs';
import { API_NODE_FLAGS, WORKER_NODE_FLAGS, canConnect, processEnv, ensureInstalled, root, run, start } from './lib.mjs';

const envFile = path.join(root, '.env');
const tokenFromEnvironment = process.env.ADMIN_TOKEN !== undefined;
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

// Mistakes first, before minutes of install and build.
const problems = checkEnv(process.env);
if (problems.length === 0) problems.push(...(await checkServices(process.env)));
if (problems.length === 0) problems.push(...(await takenPorts()));
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}

ensureInstalled();
run('npm', ['run', '--silent', 'build']);
run('node', ['packages/core/dist/cli/migrate.js']);

// Each child in its own process group: a Ctrl-C at the terminal reaches only this process (and
// npm, which passes it on), and this process asks each child once to stop.
const children = [start('node', [...API_NODE_FLAGS, 'apps/api/dist/main.js'], processEnv()), start('node', [...WORKER_NODE_FLAGS, 'apps/worker/dist/main.js'], processEnv())];
const shutdownTimeoutMs = Number(process.env.SHUTDOWN_TIMEOUT_MS) || 25_000;
let stoppingAt = null;
let requested = false;
const running = () => children.filter((child) => child.exitCode === null && child.signalCode === null);
const stopAll = () => {
  if (stoppingAt !== null) return;
  stoppingAt = Date.now();
  for (const child of running()) child.kill('SIGTERM');
  // Bounded: each child bounds its own stop by SHUTDOWN_TIMEOUT_MS; past that, and a margin, kill it.
  setTimeout(() => {
    for (const child of running()) {
      console.error(`pid ${child.pid} did not stop within ${shutdownTimeoutMs} ms; killing it`);
      child.kill('SIGKILL');
    }
  }, shutdownTimeoutMs + 5_000).unref();
};
const onSignal = (signal) => {
  if (stoppingAt === null) {
    requested = true;
    stopAll();
    return;
  }
  // One Ctrl-C arrives twice (from the terminal and from npm); a signal well after the first is
  // someone asking again, so the children stop at once.
  if (Date.now() - stoppingAt < 2_000) return;
  console.error(`${signal} again: stopping now`);
  for (const child of running()) child.kill('SIGTERM');
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onSignal);

let exitCode = 0;
const exited = Promise.all(
  children.map(
    (child) =>
      new Promise((resolve) =>
        child.on('exit', (code) => {
          // One process ending stops the other: pulsebridge is both or nothing.
          if (!requested || code !== 0) exitCode ||= code ?? 1;
          stopAll();
          resolve();
        }),
      ),
  ),
);

await announceWhenUp();
await exited;
process.exit(exitCode);

/** Once the API and the worker answer, one line: where pulsebridge listens and where the admin token is. */
async function announceWhenUp() {
  const port = Number(process.env.PORT) || 3000;
  const workerPort = Number(process.env.WORKER_PORT) || 3001;
  const answers = (url) => fetch(url, { signal: AbortSignal.timeout(1_000) }).then((response) => response.ok, () => false);
  while (stoppingAt === null) {
    if ((await answers(`http://127.0.0.1:${port}/healthz`)) && (await answers(`http://127.0.0.1:${workerPort}/healthz`))) {
      const publicUrl = process.env.PUBLIC_URL?.trim();
      const where = `http://localhost:${port}${publicUrl && publicUrl !== `http://localhost:${port}` ? `, public URL ${publicUrl}` : ''}`;
      const token = tokenFromEnvironment ? 'admin token: ADMIN_TOKEN from the environment' : `admin token in ${envFile}`;
      console.log(`pulsebridge is up: ${where} (${token})`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * PORT and WORKER_PORT must be free: something answering there (often a pulsebridge left running
 * by an earlier start) would fail the start after the build, or pass for this one being up.
 */
async function takenPorts() {
  const ports = [
    ['PORT', Number(process.env.PORT) || 3000],
    ['WORKER_PORT', Number(process.env.WORKER_PORT) || 3001],
  ];
  const taken = await Promise.all(ports.map(([, port]) => canConnect({ host: '127.0.0.1', port }, 1_000)));
  return ports
    .filter((_, index) => taken[index])
    .map(([name, port]) => `port ${port} (${name}) is already in use: stop what listens there (an earlier pulsebridge still running? see \`ps aux | grep apps/\`) or set ${name}`);
}
