import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import tls from 'node:tls';

/**
 * A fake of Heroku's Rendezvous service (attaching to a one-off dyno) on a real local TLS
 * server with its own throw-away CA: the client writes the session secret and CRLF, the
 * server answers `rendezvous\r\n`, then streams the raw output of the command, which really
 * runs under `/bin/sh -c` (bytes the client writes go to its stdin), and closes when it exits.
 * Closing the connection hangs the process up (SIGHUP), like leaving `heroku run`.
 */

export interface RendezvousSession {
  secret: string;
  command: string;
  /** Date.now() when the client completed the handshake (the process started then). */
  connectedAt?: number;
  /** stdout and stderr interleaved as they came (UTF-8). */
  output: string;
  /** Exit code, or 128 + the signal number when a signal ended it (143 after a TTL kill). */
  exitStatus: number | null;
  finished: boolean;
  /** Date.now() when it finished. */
  finishedAt?: number;
  killedForTtl: boolean;
}

export interface RegisterOptions {
  /** Seconds from registration until the process is sent SIGTERM; divided by the server's `timeScale`. */
  timeToLiveSeconds?: number;
  /** Added to the process environment (a dyno's `env`). */
  env?: Record<string, string>;
  /** Run the command at once without waiting for a client (a detached one-off dyno); its output is only recorded. */
  detached?: boolean;
}

export interface FakeRendezvous {
  host: string;
  port: number;
  /** PEM of the CA that signed the server certificate (made at start with openssl); clients pass it as `ca`. */
  caPem: string;
  caFile: string;
  /** Registers a session; returns the attach URL `rendezvous://127.0.0.1:<port>/<secret>`. */
  register(command: string, options?: RegisterOptions): { secret: string; url: string };
  /** Every session, in registration order (live objects: they change as the process runs). */
  sessions(): RendezvousSession[];
  /** The session of a secret, if registered. */
  session(secret: string): RendezvousSession | undefined;
  /** Resolves when the session of `secret` has finished (immediately if it has). */
  waitForFinish(secret: string): Promise<RendezvousSession>;
  /** Refuse TLS handshakes (simulate a TLS failure): TCP is accepted, then the socket is destroyed when the ClientHello arrives. */
  setTlsBroken(on: boolean): void;
  /** Close the listener (connections are refused) or listen again on the same port. */
  setRefusing(on: boolean): Promise<void>;
  /** Kills running processes, closes connections and the listener, removes the temp dir. */
  close(): Promise<void>;
}

interface SessionState {
  public: RendezvousSession;
  env: Record<string, string>;
  child?: ChildProcess;
  socket?: tls.TLSSocket;
  claimed: boolean;
  ttlTimer?: NodeJS.Timeout;
  killTimer?: NodeJS.Timeout;
  waiters: ((session: RendezvousSession) => void)[];
}

const HANDSHAKE_TIMEOUT_MS = 10_000;
const MAX_SECRET_LINE = 4096;
/** Heroku sends SIGKILL this long after SIGTERM (scaled like the TTL). */
const KILL_GRACE_MS = 10_000;
/** After the shell exits, leftover background processes holding its output open get this long before SIGKILL. */
const STRAGGLER_GRACE_MS = 200;

function makeCertificates(dir: string): { caPem: string; caFile: string; key: string; cert: string } {
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run([
    'req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=pulsebridge fake rendezvous CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  run(['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(
    file('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  run([
    'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '1', '-extfile', file('server.ext'), '-out', file('server.pem'),
  ]);
  return {
    caPem: readFileSync(file('ca.pem'), 'utf8'),
    caFile: file('ca.pem'),
    key: readFileSync(file('server.key'), 'utf8'),
    cert: readFileSync(file('server.pem'), 'utf8'),
  };
}

function exitStatusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal ? os.constants.signals[signal] : undefined;
  return 128 + (number ?? 0);
}

/** Signals the process group of a child started with `detached: true` (the shell and whatever it started). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

export async function startFakeRendezvous(options: { timeScale?: number } = {}): Promise<FakeRendezvous> {
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new Error('timeScale must be positive');
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'fake-rendezvous-'));
  const home = path.join(tempDir, 'home');
  mkdirSync(home);
  const { caPem, caFile, key, cert } = makeCertificates(tempDir);

  const sessions = new Map<string, SessionState>();
  const sockets = new Set<net.Socket>();
  let tlsBroken = false;
  let closed = false;

  const finish = (state: SessionState, exitStatus: number) => {
    const session = state.public;
    if (session.finished) return;
    session.exitStatus = exitStatus;
    session.finished = true;
    session.finishedAt = Date.now();
    clearTimeout(state.ttlTimer);
    clearTimeout(state.killTimer);
    for (const waiter of state.waiters.splice(0)) waiter(session);
  };

  const startProcess = (state: SessionState, socket?: tls.TLSSocket) => {
    const session = state.public;
    const child = spawn('/bin/sh', ['-c', session.command], {
      cwd: home,
      env: { ...state.env, PATH: '/usr/bin:/bin', HOME: home },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    state.child = child;
    child.stdin?.on('error', () => {});
    if (!socket) child.stdin?.end();
    for (const stream of [child.stdout, child.stderr]) {
      const decoder = new StringDecoder('utf8');
      stream?.on('data', (chunk: Buffer) => {
        session.output += decoder.write(chunk);
        if (socket && !socket.destroyed) socket.write(chunk);
      });
      stream?.on('end', () => {
        session.output += decoder.end();
      });
    }
    let status: number | null = null;
    let straggler: NodeJS.Timeout | undefined;
    child.on('error', (error) => {
      session.output += `fake rendezvous: could not start /bin/sh: ${error.message}\n`;
      status = 127;
    });
    child.on('exit', (code, signal) => {
      status = exitStatusOf(code, signal);
      // The dyno is over when its main process exits: whatever it left behind goes too.
      straggler = setTimeout(() => killGroup(child, 'SIGKILL'), STRAGGLER_GRACE_MS);
    });
    child.on('close', (code, signal) => {
      clearTimeout(straggler);
      killGroup(child, 'SIGKILL');
      finish(state, status ?? exitStatusOf(code, signal));
      socket?.end();
    });
    if (socket) {
      socket.on('data', (chunk: Buffer) => feedStdin(child, chunk));
      // The client ending the connection ends the session (the Heroku CLI does so on Ctrl-C): hang the process up.
      socket.on('close', () => {
        if (!session.finished) killGroup(child, 'SIGHUP');
      });
    }
  };

  /** Client bytes go to stdin; a 0x04 (Ctrl-D, what the Heroku CLI sends at the end of piped input) closes stdin, as a terminal would. */
  const feedStdin = (child: ChildProcess, chunk: Buffer) => {
    const stdin = child.stdin;
    if (!stdin?.writable) return;
    const eot = chunk.indexOf(0x04);
    if (eot === -1) {
      stdin.write(chunk);
      return;
    }
    if (eot > 0) stdin.write(chunk.subarray(0, eot));
    stdin.end();
  };

  const killForTtl = (state: SessionState) => {
    const session = state.public;
    if (session.finished) return;
    session.killedForTtl = true;
    if (!state.child) {
      // Expired before anyone attached: it never ran.
      finish(state, 143);
      return;
    }
    const child = state.child;
    killGroup(child, 'SIGTERM');
    state.killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), KILL_GRACE_MS / timeScale);
    state.killTimer.unref();
  };

  const handleTls = (socket: tls.TLSSocket) => {
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline === -1) {
        if (buffered.length > MAX_SECRET_LINE) socket.destroy();
        return;
      }
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      const secret = buffered.subarray(0, newline).toString('utf8').replace(/\r$/, '');
      const rest = buffered.subarray(newline + 1);
      const state = sessions.get(secret);
      if (!state || state.claimed || state.public.finished) {
        socket.end();
        return;
      }
      state.claimed = true;
      state.socket = socket;
      state.public.connectedAt = Date.now();
      socket.write('rendezvous\r\n');
      startProcess(state, socket);
      if (rest.length > 0 && state.child) feedStdin(state.child, rest);
      socket.resume();
    };
    socket.on('data', onData);
  };

  const tlsServer = tls.createServer({ key, cert }, handleTls);
  tlsServer.on('tlsClientError', (_error, socket) => socket.destroy());

  // A plain TCP listener in front, so TLS can be "broken" after the TCP accept.
  const onConnection = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (tlsBroken) {
      socket.once('data', () => socket.destroy());
      setTimeout(() => socket.destroy(), 1_000).unref();
      return;
    }
    tlsServer.emit('connection', socket);
  };

  /** The current listener (null while refusing) and every listener's close, awaited by close(). */
  let listener: net.Server | null = null;
  const listenerClosed: Promise<void>[] = [];
  const listen = (port: number) =>
    new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer(onConnection);
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  const stopListening = () => {
    if (!listener) return;
    const server = listener;
    listener = null;
    listenerClosed.push(new Promise<void>((resolve) => server.close(() => resolve())));
  };

  listener = await listen(0);
  const port = (listener.address() as AddressInfo).port;

  // Processes run in their own process groups, so they would outlive a test process that exits without close().
  const killAll = () => {
    for (const state of sessions.values()) if (state.child && !state.public.finished) killGroup(state.child, 'SIGKILL');
  };
  process.on('exit', killAll);

  return {
    host: '127.0.0.1',
    port,
    caPem,
    caFile,
    register(command, registerOptions = {}) {
      const secret = randomBytes(24).toString('hex');
      const state: SessionState = {
        public: { secret, command, output: '', exitStatus: null, finished: false, killedForTtl: false },
        env: registerOptions.env ?? {},
        claimed: false,
        waiters: [],
      };
      sessions.set(secret, state);
      if (registerOptions.timeToLiveSeconds !== undefined) {
        state.ttlTimer = setTimeout(() => killForTtl(state), (registerOptions.timeToLiveSeconds * 1000) / timeScale);
        state.ttlTimer.unref();
      }
      if (registerOptions.detached) {
        state.claimed = true;
        state.public.connectedAt = Date.now();
        startProcess(state);
      }
      return { secret, url: `rendezvous://127.0.0.1:${port}/${secret}` };
    },
    sessions: () => [...sessions.values()].map((state) => state.public),
    session: (secret) => sessions.get(secret)?.public,
    waitForFinish(secret) {
      const state = sessions.get(secret);
      if (!state) return Promise.reject(new Error(`no rendezvous session ${secret}`));
      if (state.public.finished) return Promise.resolve(state.public);
      return new Promise((resolve) => state.waiters.push(resolve));
    },
    setTlsBroken(on) {
      tlsBroken = on;
    },
    async setRefusing(on) {
      if (on) stopListening();
      else if (!listener && !closed) listener = await listen(port);
    },
    async close() {
      if (closed) return;
      closed = true;
      process.off('exit', killAll);
      killAll();
      for (const state of sessions.values()) {
        clearTimeout(state.ttlTimer);
        clearTimeout(state.killTimer);
      }
      stopListening();
      for (const socket of sockets) socket.destroy();
      await Promise.all(listenerClosed);
      rmSync(tempDir, { recursive: true, force: true });
    },
  };
}
