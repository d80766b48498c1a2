import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@pulsebridge/core';
import { ADMIN_TOKEN, SECRET_KEY, startTestStack, waitFor, type TestStack } from '../support/stack.js';
import { answers, freePort } from '../support/ports.js';
import { REDIS_URL } from '../support/services.js';

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const { checkEnv } = (await import(path.join(repo, 'scripts/check-config.mjs'))) as { checkEnv: (env: Record<string, string | undefined>) => string[] };

const roots: string[] = [];
const children: ChildProcess[] = [];
/** Every process a test started, directly or below npm, stopped even when the test failed first. */
const pids = new Set<number>();
afterAll(() => {
  for (const child of children) if (child.pid !== undefined) pids.add(child.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** The processes below `pid`, read from ps. */
function descendants(pid: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const below = (parent: number): number[] => rows.filter(([, ppid]) => ppid === parent).flatMap(([child]) => [child, ...below(child)]);
  return below(pid);
}

/**
 * A checkout `npm start` can run in: this repository's launcher scripts (copied: they find the
 * checkout from their own place), its compiled apps, config and node_modules (linked), and a
 * package.json whose build is a no-op (the apps are compiled already) and whose start script is
 * the repository's own.
 */
function checkout(options: { linked: boolean }): string {
  const root = mkdtempSync(path.join(tmpdir(), 'pulsebridge-start-'));
  roots.push(root);
  mkdirSync(path.join(root, 'scripts'));
  for (const file of readdirSync(path.join(repo, 'scripts'))) copyFileSync(path.join(repo, 'scripts', file), path.join(root, 'scripts', file));
  const scripts = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'pulsebridge-start-test', private: true, type: 'module', scripts: { start: scripts.start, build: 'true' } }));
  if (options.linked) {
    for (const dir of ['node_modules', 'apps', 'packages', 'config']) symlinkSync(path.join(repo, dir), path.join(root, dir));
    // Older than node_modules: nothing to install.
    writeFileSync(path.join(root, 'package-lock.json'), '{}');
    utimesSync(path.join(root, 'package-lock.json'), new Date(0), new Date(0));
  }
  return root;
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function launch(command: string, args: string[], cwd: string, env: Record<string, string | undefined>): Started {
  // Its own process group, as a terminal's foreground job has.
  const child = spawn(command, args, { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('npm start checks the config before it installs, builds or migrates', () => {
  it('refuses a port already taken (say by a pulsebridge left running) before anything else', async () => {
    const root = checkout({ linked: false });
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const start = launch(process.execPath, ['scripts/start.mjs'], root, { ADMIN_TOKEN, SECRET_KEY, PORT: String(port), WORKER_PORT: String(await freePort()) });
      expect(await start.exited).toBe(1);
      expect(start.output().trim().split('\n')).toEqual([
        `port ${port} (PORT) is already in use: stop what listens there (an earlier pulsebridge still running? see \`ps aux | grep apps/\`) or set PORT`,
      ]);
    } finally {
      taken.close();
    }
  });


  it('names every bad variable, from the environment and from .env, and stops', async () => {
    const root = checkout({ linked: false });
    writeFileSync(path.join(root, '.env'), 'SECRET_KEY=not-a-key\nPORT=eighty\n');
    const start = launch(process.execPath, ['scripts/start.mjs'], root, { ADMIN_TOKEN: 'short', DATABASE_URL: 'not a url' });
    expect(await start.exited).toBe(1);
    // No package-lock.json and no node_modules here: an install or build attempt would say so.
    expect(start.output().trim().split('\n')).toEqual([
      'config: ADMIN_TOKEN must be at least 16 characters',
      'config: SECRET_KEY must be 32 bytes as 64 hex characters or base64 (e.g. `openssl rand -hex 32`)',
      'config: DATABASE_URL must be a URL',
      'config: PORT must be a whole number from 0 to 65535',
    ]);
  });

  it('says where PostgreSQL and Redis were looked for and how to start them', async () => {
    const root = checkout({ linked: false });
    const [pgPort, redisPort] = [await freePort(), await freePort()];
    const start = launch(process.execPath, ['scripts/start.mjs'], root, {
      ADMIN_TOKEN,
      SECRET_KEY,
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${pgPort}/pulsebridge`,
      REDIS_URL: `redis://localhost:${redisPort}`,
    });
    expect(await start.exited).toBe(1);
    const lines = start.output().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`PostgreSQL is not reachable at 127.0.0.1:${pgPort} (DATABASE_URL)`);
    expect(lines[0]).toContain(`docker run -d --name pulsebridge-postgres -p ${pgPort}:5432`);
    expect(lines[1]).toContain(`Redis is not reachable at localhost:${redisPort} (REDIS_URL)`);
    expect(lines[1]).toContain(`redis-server --daemonize yes --port ${redisPort}`);
    // The commands are README's.
    const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
    expect(readme).toContain('docker run -d --name pulsebridge-postgres -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16');
    expect(readme).toContain('docker run -d --name pulsebridge-redis -p 6379:6379 redis:7 redis-server --appendonly yes --maxmemory-policy noeviction');
  });

  it('refuses only what the config schema refuses', () => {
    const good = { ADMIN_TOKEN, SECRET_KEY };
    const table: Record<string, string | undefined>[] = [
      good,
      {},
      { ...good, ADMIN_TOKEN: '   sixteen-chars-  ' },
      { ...good, ADMIN_TOKEN: '               x' },
      { ...good, SECRET_KEY: ' ' + 'A'.repeat(64) + ' ' },
      { ...good, SECRET_KEY: 'a'.repeat(63) },
      { ...good, SECRET_KEY: Buffer.alloc(32, 7).toString('base64') },
      { ...good, SECRET_KEY: Buffer.alloc(32, 7).toString('base64url') },
      { ...good, SECRET_KEY: Buffer.alloc(31, 7).toString('base64') },
      { ...good, DATABASE_URL: '' },
      { ...good, DATABASE_URL: '  ' },
      { ...good, DATABASE_URL: 'postgresql://user@%2Fvar%2Frun%2Fpostgresql/pulsebridge' },
      { ...good, DATABASE_URL: '127.0.0.1:5432' },
      { ...good, REDIS_URL: 'rediss://:pw@redis.example:6380' },
      { ...good, REDIS_URL: 'redis//nope' },
      { ...good, PUBLIC_URL: '' },
      { ...good, PUBLIC_URL: 'pulsebridge.example.com' },
      { ...good, PUBLIC_URL: ' https://pulsebridge.example.com/ ' },
      { ...good, SLACK_API_URL: 'http://127.0.0.1:9/api' },
      { ...good, HEROKU_API_URL: 'nope', HEROKU_ID_URL: 'also nope' },
      { ...good, PORT: '0' },
      { ...good, PORT: '' },
      { ...good, PORT: ' 8080 ' },
      { ...good, PORT: '65536' },
      { ...good, PORT: '-1' },
      { ...good, PORT: '80.5' },
      { ...good, PORT: '0x50' },
      { ...good, WORKER_PORT: 'abc' },
      { ...good, WORKER_CONCURRENCY: '0' },
      { ...good, WORKER_CONCURRENCY: '' },
      { ...good, WORKER_CONCURRENCY: '1e3' },
      { ...good, WORKER_CONCURRENCY: '1e20' },
      { ...good, EVENT_JOB_MAX_EVENTS: '100' },
      { ...good, EVENT_JOB_MAX_EVENTS: '101' },
      { ...good, EVENT_JOB_LINGER_MS: '0' },
      { ...good, EVENT_JOB_LINGER_MS: '1001' },
      { ...good, SLACK_INLINE_SYNCS: '0' },
      { ...good, SLACK_CHANNEL_INTERVAL_MS: '-5' },
      { ...good, SHUTDOWN_TIMEOUT_MS: 'Infinity' },
      { ...good, LOG_LEVEL: 'verbose' },
      { ...good, LOG_LEVEL: 'INFO' },
      { ...good, NODE_ENV: 'staging' },
      { ...good, DATABASE_SSL: '' },
      { ...good, DATABASE_SSL: 'no-verify' },
      { ...good, REDIS_TLS_VERIFY: 'no' },
      { ...good, QUEUE_PREFIX: 'pb:1' },
      { ...good, QUEUE_PREFIX: ' pb-1 ' },
      { ...good, QUEUE_PREFIX: ' ' },
      { ...good, CONFIG_DIR: ' ' },
    ];
    const named = (lines: string[]) => [...new Set(lines.map((line) => /^config: (\S+)/.exec(line)?.[1] ?? line))].sort();
    for (const env of table) {
      let schema: string[] = [];
      try {
        loadConfig(env);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        schema = named(error.lines);
      }
      const early = named(checkEnv(env));
      // Never a refusal the schema would not make; every variable it checks judged alike.
      expect(early, JSON.stringify(env)).toEqual(schema);
    }
  });
});

describe('npm start and signals', () => {
  let stack: TestStack;
  beforeAll(async () => {
    if (!existsSync(path.join(repo, 'apps/api/dist/main.js')) || !existsSync(path.join(repo, 'apps/worker/dist/main.js'))) throw new Error('build first (npx tsc -b): npm start runs the compiled apps');
    stack = await startTestStack();
  });
  afterAll(async () => stack?.stop());

  const startPulsebridge = async () => {
    const root = checkout({ linked: true });
    const [port, workerPort] = [await freePort(), await freePort()];
    const started = launch('npm', ['start'], root, {
      ADMIN_TOKEN,
      SECRET_KEY,
      DATABASE_URL: stack.config.databaseUrl,
      REDIS_URL,
      QUEUE_PREFIX: `${stack.config.queuePrefix}-start`,
      PORT: String(port),
      WORKER_PORT: String(workerPort),
      SHUTDOWN_TIMEOUT_MS: '10000',
    });
    await waitFor(() => /pulsebridge is up/.test(started.output()), { timeoutMs: 60_000, what: 'npm start to say it is up' }).finally(() => {
      for (const pid of descendants(started.child.pid!)) pids.add(pid);
    });
    const up = started.output().split('\n').filter((line) => line.startsWith('pulsebridge is up'));
    expect(up).toEqual([`pulsebridge is up: http://localhost:${port} (admin token: ADMIN_TOKEN from the environment)`]);
    expect(await answers(port)).toBe(true);
    expect(await answers(workerPort)).toBe(true);
    return { ...started, port, workerPort };
  };

  const expectOneGracefulStop = async (started: Awaited<ReturnType<typeof startPulsebridge>>) => {
    const code = await Promise.race([started.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000))]);
    expect(code, started.output()).toBe(0);
    expect(await answers(started.port)).toBe(false);
    expect(await answers(started.workerPort)).toBe(false);
    const logs = started.output().split('\n').filter((line) => line.startsWith('{'));
    const messages = (name: string) => logs.filter((line) => line.includes(`"msg":"${name}"`)).length;
    // The API and the worker: each stopped gracefully, once.
    expect(messages('shutting down'), started.output()).toBe(2);
    expect(messages('shutdown complete'), started.output()).toBe(2);
    expect(started.output()).not.toContain('second signal');
  };

  it('SIGTERM to the npm process stops the API and the worker gracefully', async () => {
    const started = await startPulsebridge();
    started.child.kill('SIGTERM');
    await expectOneGracefulStop(started);
  }, 90_000);

  it('a launcher killed outright (SIGKILL) leaves nothing running: the API and the worker stop gracefully and free their ports', async () => {
    const started = await startPulsebridge();
    const commandLine = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    };
    const launcher = descendants(started.child.pid!).find((pid) => commandLine(pid).includes('scripts/start.mjs'));
    expect(launcher).toBeDefined();
    process.kill(launcher!, 'SIGKILL');
    await waitFor(async () => (!(await answers(started.port)) && !(await answers(started.workerPort))) || undefined, { timeoutMs: 30_000, what: 'both ports to close' });
    const completed = () => started.output().split('\n').filter((line) => line.startsWith('{') && line.includes('"msg":"shutdown complete"')).length;
    await waitFor(() => completed() === 2 || undefined, { timeoutMs: 30_000, what: 'both processes to log a graceful stop' });
  }, 90_000);

  it('Ctrl-C at a terminal (SIGINT to the whole foreground process group) is one graceful stop', async () => {
    const started = await startPulsebridge();
    process.kill(-started.child.pid!, 'SIGINT');
    await expectOneGracefulStop(started);
  }, 90_000);
});
