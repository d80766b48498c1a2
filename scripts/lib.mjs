// Helpers for the start and test launchers. Plain Node with no dependencies: they run
// before `npm ci` has installed anything.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs a command in the repository root, inheriting stdio; exits with its code when it fails. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env, ...options });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** `npm ci` when node_modules is missing or older than package-lock.json. */
export function ensureInstalled() {
  const marker = `${root}/node_modules/.package-lock.json`;
  const lock = `${root}/package-lock.json`;
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log('installing dependencies (npm ci)...');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

/** Resolves true when something accepts connections at `{host, port}` (TCP) or `{path}` (a Unix socket) within `timeoutMs`. */
export function canConnect(target, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const socket = net.connect(target);
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Starts a long-running child in its own process group and returns it; its output goes to ours.
 * Signals from the terminal reach only the launcher, which decides what the child gets.
 */
export function start(command, args, env = process.env) {
  // The IPC channel closes when this process ends however it ends (even SIGKILL): the child
  // sees it disconnect and stops gracefully instead of holding its port.
  return spawn(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env, detached: true });
}

/**
 * How the worker's Node runs: a heap it collects before it grows (its live data is small; the
 * queues are in Redis). Without a limit V8 lets garbage pile up to several hundred MB under
 * load. The same flags are in package.json (start:worker, used by the Procfile),
 * docker-compose.yml and bench/pipeline.
 */
export const WORKER_NODE_FLAGS = ['--max-old-space-size=128'];

/**
 * How the API's Node runs, for the same reason: its live data is some 50 MB, and under a drain's
 * load an unbounded heap grows past 150 MB of garbage between collections. The same flags are in
 * package.json (start:api), the Dockerfile, docker-compose.yml and bench/drain.
 */
export const API_NODE_FLAGS = ['--max-old-space-size=192'];

/**
 * The environment both run with: two malloc arenas, not one per thread. The first query compiles
 * Prisma's WebAssembly query compiler on V8's background threads, and with an arena each their
 * memory stays with the process (some 50 MB more resident). Set it yourself to override.
 */
export const processEnv = (env = process.env) => ({ MALLOC_ARENA_MAX: '2', ...env });
