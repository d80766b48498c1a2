import { spawn, type ChildProcess } from 'node:child_process';
import { answers, freePort } from './ports.js';
import { waitFor } from './stack.js';

/** A redis-server of one test's own (never the machine's shared one), keeping nothing on disk. */
export interface OwnRedis {
  port: number;
  url: string;
  /** Kills the server (SIGKILL): its data is gone, as after a crash without persistence. */
  kill(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  start(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let server: ChildProcess | undefined;
  const own: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      server?.kill('SIGKILL');
      await waitFor(async () => !(await answers(port)), { what: 'own redis-server down' });
    },
    async start() {
      server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      await waitFor(() => answers(port), { what: 'own redis-server up' });
    },
  };
  await own.start();
  return own;
}
