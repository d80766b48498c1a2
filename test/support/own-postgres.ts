import { execFile, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { defaultMigrationsDir, migrateDatabase } from '@pulsebridge/core';
import { freePort } from './ports.js';

const run = promisify(execFile);

/** PostgreSQL 15's server binaries, as Debian installs them (the machine's own cluster is 15 too). */
export const PG_BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** A PostgreSQL cluster of one test's own, in a temp directory on a spare port, that it may stop and start. */
export interface OwnPostgres {
  port: number;
  /** Connection URL of a database in this cluster. */
  url(database: string): string;
  /** `pg_ctl stop -m fast`: sessions are terminated, then the server shuts down cleanly. */
  stop(): Promise<void>;
  /** `pg_ctl start`, waiting until the server accepts connections. */
  start(): Promise<void>;
  /** Stops the server at once (whatever state it is in) and removes its directory; safe to call twice. */
  destroy(): Promise<void>;
}

/**
 * initdb refuses to run as root, and the server must own its data directory: as root, the
 * binaries run as the `postgres` OS user (tests run as root in CI); otherwise as ourselves.
 */
function asServerUser(binary: string, args: string[]): [string, string[]] {
  const command = path.join(PG_BIN, binary);
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

/**
 * Creates, configures and starts a throwaway cluster: trust auth for `postgres`, TCP on
 * 127.0.0.1 only, its socket in its own directory (never the system's), fsync off. Never
 * the machine's shared cluster, so stopping it disturbs no other test.
 */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pbtest-own-pg-'));
  const dataDir = path.join(root, 'data');
  const socketDir = path.join(root, 'socket');
  const logFile = path.join(root, 'server.log');
  const port = await freePort();
  const pgCtl = (args: string[]) => {
    const [command, argv] = asServerUser('pg_ctl', ['-D', dataDir, ...args]);
    return run(command, argv);
  };
  // A test process that exits without its afterAll must not leave a server (or its files) behind.
  const stopOnExit = () => {
    const [command, argv] = asServerUser('pg_ctl', ['-D', dataDir, 'stop', '-m', 'immediate']);
    spawnSync(command, argv, { stdio: 'ignore' });
    rmSync(root, { recursive: true, force: true });
  };
  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    process.off('exit', stopOnExit);
    await pgCtl(['stop', '-m', 'immediate', '-w', '-t', '10']).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };

  try {
    await mkdir(socketDir);
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      for (const dir of [root, socketDir]) await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    const [initdb, initdbArgs] = asServerUser('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    await run(initdb, initdbArgs);
    await appendFile(
      path.join(dataDir, 'postgresql.conf'),
      [
        '',
        `port = ${port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${socketDir}'`,
        'fsync = off',
        'full_page_writes = off',
        '',
      ].join('\n'),
    );
    process.on('exit', stopOnExit);
    await pgCtl(['start', '-w', '-t', '30', '-l', logFile]);
  } catch (error) {
    await destroy();
    throw error;
  }

  return {
    port,
    url: (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    async stop() {
      await pgCtl(['stop', '-m', 'fast', '-w', '-t', '30']);
    },
    async start() {
      await pgCtl(['start', '-w', '-t', '30', '-l', logFile]);
    },
    destroy,
  };
}

/** Creates a database in the cluster and applies the repository's migrations to it; returns its URL. */
export async function createMigratedDatabase(cluster: OwnPostgres, name = 'pulsebridge_test'): Promise<string> {
  const admin = new pg.Client({ connectionString: cluster.url('postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = cluster.url(name);
  await migrateDatabase(url, defaultMigrationsDir());
  return url;
}
