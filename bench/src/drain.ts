// bench/drain: how fast pulsebridge's Heroku log drain ingress accepts realistic logplex batches,
// side by side in the same run with the floor (bare node:http reading the bodies and counting
// frames) and the naive receiver a user would write (express text body, split lines, one regex
// per line, one Redis INCR per error line); then detection latency with the worker running,
// peak RSS of every process, exact counts in Redis, and two API processes against one.
//
//   npm run bench:drain [-- --duration 12 --connections 50 --frames 100 --apps 3000 --rate 1000]
//
// Bodies are mostly `at=info` router lines (~260 bytes a frame, request_id and all), a few
// percent errors (4xx, 5xx, H12/H13/H18/H27), app lines and R14 bursts, built before any run
// starts and rotated over thousands of apps (500 per integration); every request carries its
// own Logplex-Frame-Id, which is how the exact count knows which bodies pulsebridge counted. Each receiver runs in its own process, one after
// another; the load generator (autocannon) runs in this one. Exits 1 when a target is missed.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { Redis } from 'ioredis';
import { BENCH_SERVER_OPTIONS, createBenchDatabase, dropBenchData } from './bench-database.js';
import { cpuBetween, cpuSnapshot, type CpuSnapshot } from './process-cpu.js';
import { printVerdict } from './verdict.js';

const { values: args } = parseArgs({
  options: {
    /** Seconds of saturating load per receiver (after a warm-up of `--warmup` seconds each). */
    duration: { type: 'string', default: '12' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    /** Frames per body in the saturation runs: a number, or a range `1-200`. */
    frames: { type: 'string', default: '100' },
    /** Frames per body in the fixed-rate run (Logplex batches vary). */
    'fixed-frames': { type: 'string', default: '1-200' },
    apps: { type: 'string', default: '3000' },
    /** Requests per second of the fixed-rate run (pulsebridge only), evenly paced. */
    rate: { type: 'string', default: '1000' },
    'fixed-duration': { type: 'string', default: '15' },
    /** Apps whose threshold crossing is timed (half H12 on web, half R14 on worker). */
    'detect-apps': { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    ...BENCH_SERVER_OPTIONS,
    /** Keep the database afterwards, to look at its incidents. */
    keep: { type: 'boolean', default: false },
    /** Node flags for the API process (as a user would give them), e.g. "--max-semi-space-size=8". */
    'api-flags': { type: 'string', default: '' },
    /** Write a V8 CPU profile of the API into this folder. */
    profile: { type: 'string' },
  },
});
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const CONNECTIONS = Number(args.connections);
const APPS = Number(args.apps);
const RATE = Number(args.rate);
const FIXED_DURATION = Number(args['fixed-duration']);
const DETECT_APPS = Number(args['detect-apps']);
const API_NODE_FLAGS = ['--max-old-space-size=192'];
const WORKER_NODE_FLAGS = ['--max-old-space-size=128'];
const processEnv = (env: NodeJS.ProcessEnv) => ({ MALLOC_ARENA_MAX: '2', ...env });
const TARGETS = { ratio: 1.0, fixedP99Ms: 50, detectionP99Ms: 5_000, apiRssMb: 250 };
/** Deliberate Logplex retries: bodies sent twice with the same Logplex-Frame-Id. */
const RETRIES = 24;

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const here = path.join(repo, 'bench/dist');
const runId = `pbdrain_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const databaseUrl = `${args.pg}/${runId}`;
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const PORTS = { api: 3380, worker: 3381, floor: 3382, naive: 3383, api2: 3384 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
const frameRange = (spec: string): [number, number] => {
  const [low, high] = spec.split('-').map(Number);
  return [low!, high ?? low!];
};

// ---------------------------------------------------------------------------------------------
// Bodies

/** Mulberry32: the same seed builds the same bodies, so runs are comparable. */
function rng(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(Number(args.seed));
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
const hex = (length: number) => {
  let out = '';
  while (out.length < length) out += Math.floor(random() * 0x100000000).toString(16).padStart(8, '0');
  return out.slice(0, length);
};
const uuid = () => {
  const h = hex(32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
};

interface DrainBody {
  buf: Buffer;
  frames: number;
  /** What pulsebridge must add to the app's minute bucket (`<process type> <signal>`), besides `lines`. */
  fields: Map<string, number>;
  /** Lines the naive receiver's regex takes for errors. */
  errorLines: number;
}
const bodies: DrainBody[] = [];

/** Builds one body's frames, keeping the counts a correct receiver must find. */
class BodyBuilder {
  private readonly frames: string[] = [];
  readonly fields = new Map<string, number>();
  errorLines = 0;
  private clock = Date.now() - 2_000;

  private add(field: string) {
    this.fields.set(field, (this.fields.get(field) ?? 0) + 1);
  }

  private header(priority: number, app: string, proc: string): string {
    this.clock += random() * 20;
    const micro = String(Math.floor(random() * 1000)).padStart(3, '0');
    return `<${priority}>1 ${new Date(this.clock).toISOString().replace('Z', `${micro}+00:00`)} host ${app} ${proc} -`;
  }

  private push(line: string) {
    this.frames.push(`${Buffer.byteLength(`${line}\n`)} ${line}\n`);
  }

  /** A router line: `at=info` with `status`, or `at=error code=...` (503, H27 499). */
  router(status: number, code?: 'H12' | 'H13' | 'H18' | 'H27') {
    const dyno = `web.${between(1, 12)}`;
    const method = random() < 0.8 ? 'GET' : pick(['POST', 'POST', 'PUT', 'PATCH', 'DELETE']);
    const route = pick(['/', '/', '/health', `/orders/${between(1000, 99999)}`, '/orders', `/p/${between(1, 9999)}`, `/assets/app-${hex(8)}.js`, '/login', `/cart/${between(1, 99999)}`, '/search?q=boots', '/hooks/stripe']);
    const host = pick(['acme.io', 'www.acme.io', 'acme-prod.herokuapp.com']);
    const at = code === undefined ? 'at=info' : `at=error code=${code} desc="${{ H12: 'Request timeout', H13: 'Connection closed without response', H18: 'Server Request Interrupted', H27: 'Client Request Interrupted' }[code]}"`;
    const service = code === 'H12' ? 30000 : between(1, 120) * (random() < 0.1 ? 10 : 1);
    const fwd = `${between(1, 223)}.${between(0, 255)}.${between(0, 255)}.${between(1, 254)}`;
    this.push(`${this.header(158, 'heroku', 'router')} ${at} method=${method} path="${route}" host=${host} request_id=${uuid()} fwd="${fwd}" dyno=${dyno} connect=${between(0, 2)}ms service=${service}ms status=${status} bytes=${code ? 0 : between(0, 48000)} protocol=https`);
    this.add('web req');
    if (status >= 500) this.add('web 5xx');
    if (code !== undefined) this.add(`web ${code}`);
    if (status >= 500 || code !== undefined) this.errorLines += 1;
  }

  /** The app's own line (no signal). */
  app() {
    const line = random() < 0.5 ? `Started GET "/api/orders/${between(1000, 99999)}" for ${between(1, 223)}.${between(0, 255)}.${between(0, 255)}.${between(1, 254)} at 2026-11-24 10:00:00 +0000` : `Completed 200 OK in ${between(2, 400)}ms (Views: ${between(1, 90)}.${between(0, 9)}ms | ActiveRecord: ${between(1, 60)}.${between(0, 9)}ms | Allocations: ${between(1000, 90000)})`;
    this.push(`${this.header(190, 'app', `web.${between(1, 12)}`)} ${line}`);
  }

  /** An R14 as Heroku writes it: the memory line, then the error. */
  r14(dyno: string) {
    const mb = between(520, 1000);
    this.push(`${this.header(45, 'heroku', dyno)} Process running mem=${mb}M(${((mb * 100) / 512).toFixed(1)}%)`);
    this.push(`${this.header(45, 'heroku', dyno)} Error R14 (Memory quota exceeded)`);
    this.add(`${dyno.split('.')[0]} R14`);
    this.errorLines += 1;
  }

  /** A line of the realistic mix: mostly 2xx/3xx router lines, a few percent errors. */
  mixed() {
    const u = random();
    if (u < 0.03) this.app();
    else if (u < 0.034) {
      const code = pick(['H12', 'H12', 'H12', 'H13', 'H13', 'H18', 'H27', 'H27'] as const);
      this.router(code === 'H27' ? 499 : 503, code);
    } else if (u < 0.054) this.router(pick([500, 500, 500, 502, 503, 504]));
    else if (u < 0.079) this.router(pick([404, 404, 401, 403, 422, 429]));
    else this.router(pick([200, 200, 200, 200, 200, 200, 200, 200, 201, 204, 301, 302, 304]));
  }

  get count() {
    return this.frames.length;
  }

  build(): number {
    bodies.push({ buf: Buffer.from(this.frames.join('')), frames: this.frames.length, fields: this.fields, errorLines: this.errorLines });
    return bodies.length - 1;
  }
}

/** A body of the realistic mix; one in 40 carries an R14 burst (two on one dyno). */
function mixedBody(frames: number): number {
  const builder = new BodyBuilder();
  const burstAt = frames >= 4 && random() < 1 / 40 ? between(0, frames - 4) : -1;
  while (builder.count < frames) {
    if (builder.count === burstAt) {
      const dyno = random() < 0.6 ? `worker.${between(1, 4)}` : `web.${between(1, 12)}`;
      builder.r14(dyno);
      builder.r14(dyno);
    } else builder.mixed();
  }
  return builder.build();
}

/** A body of `frames` 2xx lines with `errors` H12 (web) or R14 (worker) spread among them. */
function signalBody(kind: 'H12' | 'R14', errors: number, frames = 100): number {
  const builder = new BodyBuilder();
  const at = new Set<number>();
  while (at.size < errors) at.add(between(0, frames - 1));
  for (let i = 0; builder.count < frames + (kind === 'R14' ? errors : 0); i += 1) {
    if (at.has(i)) {
      if (kind === 'H12') builder.router(503, 'H12');
      else builder.r14(`worker.${between(1, 4)}`);
    } else builder.router(pick([200, 200, 200, 201, 304]));
  }
  return builder.build();
}

function bodyPool(size: number, spec: string): number[] {
  const [low, high] = frameRange(spec);
  return Array.from({ length: size }, () => mixedBody(between(low, high)));
}

// ---------------------------------------------------------------------------------------------
// What is sent, per Logplex-Frame-Id

interface Target {
  integrationId: string;
  app: string;
  /** Path of the app's drain URL. */
  path: string;
}
const targets: Target[] = [];

type Receiver = 'floor' | 'naive' | 'pulsebridge';
interface Sent {
  receiver: Receiver;
  target: number;
  body: number;
  /** HTTP status seen by the sender; 0 when the sender stopped before the answer. */
  status: number;
}
/** Every request, indexed by the counter in its Logplex-Frame-Id. */
const sent: Sent[] = [];
const frameTag = randomBytes(12).toString('hex');
const frameIdOf = (n: number) => `${frameTag}${n.toString(16).padStart(8, '0')}`;
const baseHeaders = { 'content-type': 'application/logplex-1', 'user-agent': 'Logplex/v123', 'logplex-drain-token': 'd.5b4e3f3c-6b1d-4f5e-9a36-0b1f5a0c2d7e' };
const headersOf = (n: number) => ({ ...baseHeaders, 'logplex-msg-count': String(bodies[sent[n]!.body]!.frames), 'logplex-frame-id': frameIdOf(n) });

/**
 * The senders of the fixed-rate run and of single requests: node:http with kept-alive
 * connections. Timed bodies (detection, retries, two processes) have connections of their own,
 * as another app's Logplex would: they never wait behind the load's queue in this process.
 */
const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
const ownAgent = new Agent({ keepAlive: true, maxSockets: 8 });
function post(port: number, urlPath: string, body: Buffer, headers: Record<string, string>, via = agent): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: urlPath, agent: via, headers: { ...headers, 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends ledger entry `n` (again, for a retry) to `port`; `own` on a connection of its own. */
async function send(n: number, port: number, own = true): Promise<{ status: number; ms: number }> {
  const entry = sent[n]!;
  const answer = await post(port, targets[entry.target]!.path, bodies[entry.body]!.buf, headersOf(n), own ? ownAgent : agent);
  entry.status = answer.status;
  return answer;
}
const record = (receiver: Receiver, target: number, body: number) => sent.push({ receiver, target, body, status: 0 }) - 1;

// ---------------------------------------------------------------------------------------------
// Processes

interface Child {
  label: string;
  process: ChildProcess;
  maxRssKb: number;
}
const children: Child[] = [];

function start(label: string, script: string, env: Record<string, string>, execArgv: string[] = []): Child {
  const child: Child = { label, process: fork(script, [], { cwd: repo, env: { ...processEnv(process.env), ...env }, execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }), maxRssKb: 0 };
  children.push(child);
  return child;
}

async function waitForHttp(url: string, child: Child): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    if (child.process.exitCode !== null) throw new Error(`${child.label} exited with ${child.process.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${url} did not answer`);
}

const statusOf = (pid: number | undefined, field: 'VmRSS' | 'VmHWM') => {
  if (pid === undefined) return 0;
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0; // exited
  }
};
/** Resident memory of every child, sampled; the peak (VmHWM) is read too while it lives. */
function sampleRss() {
  for (const child of children) child.maxRssKb = Math.max(child.maxRssKb, statusOf(child.process.pid, 'VmRSS'), statusOf(child.process.pid, 'VmHWM'));
}
const rssMb = (label: string) => (children.find((child) => child.label === label)?.maxRssKb ?? NaN) / 1024;

async function stop(child: Child): Promise<void> {
  sampleRss();
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise((resolve) => child.process.once('exit', resolve));
  child.process.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
}

/** A Slack Web API that answers like Slack and records when each post arrives. */
async function startFakeSlack() {
  const posts: { at: number; threadTs?: string; params: string }[] = [];
  let ts = 1_764_000_000_000_000;
  const server = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(data));
      const method = req.url?.split('/').pop() ?? '';
      const answer = (value: object) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: true, ...value }));
      if (method === 'chat.postMessage') {
        ts += 1;
        posts.push({ at: Date.now(), params: JSON.stringify(params), ...(params.thread_ts && { threadTs: params.thread_ts }) });
        return answer({ channel: `C${(params.channel ?? '').replace(/\W/g, '').toUpperCase().slice(0, 10)}`, ts: `${Math.floor(ts / 1e6)}.${String(ts % 1e6).padStart(6, '0')}` });
      }
      if (method === 'chat.update') return answer({ channel: params.channel, ts: params.ts });
      if (method === 'conversations.list') return answer({ channels: [], response_metadata: { next_cursor: '' } });
      return answer({ messages: [], has_more: false });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, posts, close: () => new Promise((resolve) => server.close(resolve)) };
}

// ---------------------------------------------------------------------------------------------
// What pulsebridge remembers counting

async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Per ledger entry whose Logplex-Frame-Id pulsebridge remembers as counted: where, and in which keys. */
const remembered = new Map<number, { integrationId: string; app: string; frameId: string; keys: Set<string> }>();

/**
 * Reads the frame ids pulsebridge keeps of the batches it counted (to refuse Logplex's retries),
 * in either layout: a set per app and minute (`drain:f:<integration>:<app>:<minute>`, members
 * the ids, kept a few minutes: read after each run, before they expire) or a key per id
 * (`drain:f:<integration>:<app>:<id>`).
 */
async function harvestFrameIds(redis: Redis, prefix: string): Promise<void> {
  const keys = await scan(redis, `${prefix}:drain:f:*`);
  for (let i = 0; i < keys.length; i += 500) {
    const slice = keys.slice(i, i + 500);
    const types = ((await slice.reduce((pipeline, key) => pipeline.type(key), redis.pipeline()).exec()) ?? []).map(([, type]) => type as string);
    const sets = slice.filter((_, index) => types[index] === 'set');
    const members = ((await sets.reduce((pipeline, key) => pipeline.smembers(key), redis.pipeline()).exec()) ?? []).map(([, ids]) => ids as string[]);
    const ids = new Map<string, string[]>(sets.map((key, index) => [key, members[index] ?? []]));
    slice.forEach((key, index) => {
      const [integrationId = '', app = '', last = ''] = key.slice(`${prefix}:drain:f:`.length).split(':');
      for (const frameId of types[index] === 'set' ? (ids.get(key) ?? []) : [last]) {
        const n = frameId.startsWith(frameTag) && frameId.length === frameTag.length + 8 ? parseInt(frameId.slice(frameTag.length), 16) : -1;
        const entry = remembered.get(n) ?? { integrationId, app, frameId, keys: new Set<string>() };
        entry.keys.add(key);
        remembered.set(n, entry);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Runs

interface Run {
  seconds: number;
  /** Requests answered 204 while the sender ran. */
  answered: number;
  lines: number;
  other: number;
  errors: number;
  p50: number;
  p99: number;
  cpu: Map<string, number>;
}
const linesPerS = (run: Run) => run.lines / run.seconds;
const reqPerS = (run: Run) => run.answered / run.seconds;

let cpuPids: Record<string, number | undefined> = {};
/** CPU of each process, plus the machine's softirq time (loopback networking, charged to no process) and steal (the hypervisor's). */
const cpuNow = (): CpuSnapshot => {
  const snapshot = cpuSnapshot({ ...cpuPids, bench: process.pid });
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  snapshot.set('softirq', (fields[7] ?? 0) / 100);
  snapshot.set('steal', (fields[8] ?? 0) / 100);
  return snapshot;
};

/** Saturates one receiver with autocannon: every request a body of the pool, apps in rotation. */
async function saturate(receiver: Receiver, port: number, pool: number[], seconds: number): Promise<Run> {
  const first = sent.length;
  const cpuBefore = cpuNow();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    method: 'POST',
    duration: seconds,
    connections: CONNECTIONS,
    headers: baseHeaders,
    requests: [
      {
        setupRequest: (req, context) => {
          const n = record(receiver, sent.length % APPS, pool[sent.length % pool.length]!);
          (context as { n?: number }).n = n;
          return { ...req, path: targets[sent[n]!.target]!.path, body: bodies[sent[n]!.body]!.buf, headers: { ...req.headers, ...headersOf(n) } };
        },
        onResponse: (status, _body, context) => {
          const n = (context as { n?: number }).n;
          if (n !== undefined) sent[n]!.status = status;
        },
      },
    ],
  });
  const cpuUsed = cpuBetween(cpuBefore, cpuNow());
  let answered = 0;
  let lines = 0;
  let other = 0;
  for (let n = first; n < sent.length; n += 1) {
    const entry = sent[n]!;
    if (entry.status === 204) {
      answered += 1;
      lines += bodies[entry.body]!.frames;
    } else if (entry.status !== 0) other += 1;
  }
  const cpu = new Map([...cpuUsed].map(([label, used]) => [label, used / result.duration]));
  return { seconds: result.duration, answered, lines, other, errors: result.errors + result.timeouts, p50: result.latency.p50, p99: result.latency.p99, cpu };
}

interface Detection {
  app: string;
  dedupKey: string;
  /** When the body with the line that crosses the threshold was sent. */
  sentAt: number;
  incidentAt?: number;
  slackAt?: number;
}

/**
 * pulsebridge at a fixed rate, evenly paced (one request every 1000/rate ms, up to `--connections`
 * at once; a request waiting for a connection counts its wait). Meanwhile, for each detection app
 * in turn: a body with the lines just under a threshold, then 300 ms later the body whose line
 * crosses it (4 H12 then 1 on web; 2 R14 then 1 on worker), both within one minute.
 */
let apiDuringFixed: { loopP99Ms: number; loopMaxMs: number; gc: Map<string, { count: number; seconds: number }> } | undefined;
/** The API's memory as its metrics tell it, after the saturation run and after the fixed-rate run. */
const apiMemory: string[] = [];

/** Event loop delay (since the last read) and GC pauses so far, from the API's Prometheus metrics. */
async function apiRuntime(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^pulsebridge_${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
  const gc = new Map<string, { count: number; seconds: number }>();
  for (const match of text.matchAll(/^pulsebridge_nodejs_gc_duration_seconds_(count|sum)\{[^}]*kind="(\w+)"[^}]*\} ([0-9.e+-]+)$/gm)) {
    const entry = gc.get(match[2]!) ?? { count: 0, seconds: 0 };
    if (match[1] === 'count') entry.count = Number(match[3]);
    else entry.seconds = Number(match[3]);
    gc.set(match[2]!, entry);
  }
  const mb = (name: string, label = '') => Number(new RegExp(`^pulsebridge_${name}\\{[^}]*${label}[^}]*\\} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  const memory = `heap ${mb('nodejs_heap_size_used_bytes').toFixed(0)} of ${mb('nodejs_heap_size_total_bytes').toFixed(0)} MB (new space ${mb('nodejs_heap_space_size_total_bytes', 'space="new"').toFixed(0)}, old ${mb('nodejs_heap_space_size_total_bytes', 'space="old"').toFixed(0)}), external ${mb('nodejs_external_memory_bytes').toFixed(0)} MB, RSS ${mb('process_resident_memory_bytes').toFixed(0)} MB`;
  return { loopP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000, loopMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000, gc, memory };
}

async function fixedRate(pool: number[], detectTargets: number[], detections: Detection[]) {
  const total = Math.round(RATE * FIXED_DURATION);
  const latencies: number[] = [];
  /** Latencies by the second of the run they were sent in: where the slow ones cluster. */
  const bySecond: number[][] = [];
  let answered = 0;
  let lines = 0;
  let other = 0;
  let errors = 0;
  const inflight = new Set<Promise<void>>();
  const startedAt = performance.now();
  const startedWall = Date.now();

  const detecting = (async () => {
    const spacing = Math.max(500, (FIXED_DURATION * 1000 - 2_000) / Math.max(1, detectTargets.length));
    for (const [i, target] of detectTargets.entries()) {
      await sleep(startedWall + 1_000 + i * spacing - 400 - Date.now());
      // The lines under the threshold and the line crossing it must land in one window.
      const toMinute = 60_000 - (Date.now() % 60_000);
      if (toMinute < 2_000) await sleep(toMinute + 250);
      const kind = i % 2 === 0 ? 'H12' : 'R14';
      const below = await send(record('pulsebridge', target, signalBody(kind, kind === 'H12' ? 4 : 2)), PORTS.api);
      if (below.status !== 204) throw new Error(`detection body answered ${below.status}`);
      await sleep(300);
      const crossing = record('pulsebridge', target, signalBody(kind, 1));
      const app = targets[target]!.app;
      const detection: Detection = { app, dedupKey: `heroku:${app}:${kind === 'H12' ? 'web' : 'worker'}:log:${kind}`, sentAt: Date.now() };
      detections.push(detection);
      const crossed = await send(crossing, PORTS.api);
      if (crossed.status !== 204) throw new Error(`detection body answered ${crossed.status}`);
    }
  })();
  detecting.catch(() => undefined); // awaited (and thrown) below

  let sentCount = 0;
  while (sentCount < total) {
    const now = performance.now();
    while (sentCount < total && startedAt + (sentCount * 1000) / RATE <= now) {
      const n = record('pulsebridge', sentCount % APPS, pool[sentCount % pool.length]!);
      const second = Math.floor(sentCount / RATE);
      const one = send(n, PORTS.api, false).then(
        (answer) => {
          latencies.push(answer.ms);
          (bySecond[second] ??= []).push(answer.ms);
          if (answer.status === 204) {
            answered += 1;
            lines += bodies[sent[n]!.body]!.frames;
          } else other += 1;
        },
        () => {
          errors += 1;
        },
      );
      inflight.add(one);
      void one.finally(() => inflight.delete(one));
      sentCount += 1;
    }
    await sleep(startedAt + (sentCount * 1000) / RATE - performance.now());
  }
  await Promise.all(inflight);
  const seconds = (performance.now() - startedAt) / 1000;
  await detecting;
  const perSecond = bySecond.map((values, i) => ({ p50: percentile(values, 50), p99: percentile(values, 99), max: Math.max(...values), clock: new Date(startedWall + i * 1000).toISOString().slice(11, 19) }));
  return { seconds, answered, lines, other, errors, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies), perSecond, cpu: new Map<string, number>() };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  console.log(`bench/drain: logplex bodies of ${args.frames} frames (fixed-rate run: ${args['fixed-frames']}), ${int(APPS)} apps, ${CONNECTIONS} connections, ${DURATION} s per receiver after ${WARMUP} s of warm-up, loopback, ${availableParallelism()} cores`);
  const buildStart = performance.now();
  // Pool sizes are primes, so that app and body rotations do not line up.
  const saturationPool = bodyPool(997, args.frames);
  const fixedPool = bodyPool(1009, args['fixed-frames']);
  const sizes = saturationPool.map((b) => bodies[b]!.buf.length);
  const meanBytes = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  const meanFrames = saturationPool.reduce((sum, b) => sum + bodies[b]!.frames, 0) / saturationPool.length;
  const mix = new Map<string, number>();
  for (const b of saturationPool) for (const [field, count] of bodies[b]!.fields) mix.set(field, (mix.get(field) ?? 0) + count);
  const poolLines = meanFrames * saturationPool.length;
  const share = (field: string) => `${(((mix.get(field) ?? 0) * 100) / poolLines).toFixed(2)}%`;
  const r14 = [...mix].filter(([field]) => field.endsWith(' R14')).reduce((sum, [, count]) => sum + count, 0);
  console.log(
    `bodies: ~${int(meanBytes)} bytes, ${meanFrames.toFixed(0)} frames (${(meanBytes / meanFrames).toFixed(0)} bytes a frame) on average; of the lines, ${share('web 5xx')} 5xx, H12 ${share('web H12')}, H13 ${share('web H13')}, H18 ${share('web H18')}, H27 ${share('web H27')}, R14 ${((r14 * 100) / poolLines).toFixed(2)}% (bursts of 2 in 1 body of 40); built in ${((performance.now() - buildStart) / 1000).toFixed(1)} s before any run`,
  );

  await createBenchDatabase(args.pg, runId);
  const slack = await startFakeSlack();
  const redis = new Redis(args.redis);
  const db = new pg.Client({ connectionString: databaseUrl });
  const rssTimer = setInterval(sampleRss, 200);
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: args.redis,
    ADMIN_TOKEN,
    SECRET_KEY: randomBytes(32).toString('hex'),
    QUEUE_PREFIX: runId,
    PORT: String(PORTS.api),
    WORKER_PORT: String(PORTS.worker),
    LOG_LEVEL: 'warn',
    SLACK_BOT_TOKEN: 'xoxb-bench',
    SLACK_API_URL: slack.url,
  };
  const profileFlags = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(args.profile)}`] : [];
  try {
    const floor = start('floor', path.join(here, 'drain-floor-receiver.js'), { PORT: String(PORTS.floor) });
    const naive = start('naive', path.join(here, 'naive-drain-receiver.js'), { PORT: String(PORTS.naive), REDIS_URL: args.redis, NAIVE_PREFIX: `${runId}-naive` });
    // The API and the worker with the heap flags and malloc arenas `npm start` and the Procfile
    // give them (scripts/lib.mjs).
    const api = start('api', path.join(repo, 'apps/api/dist/main.js'), env, [...API_NODE_FLAGS, ...args['api-flags'].split(' ').filter(Boolean), ...profileFlags]);
    const worker = start('worker', path.join(repo, 'apps/worker/dist/main.js'), env, WORKER_NODE_FLAGS);
    await Promise.all([
      waitForHttp(`http://127.0.0.1:${PORTS.floor}/stats`, floor),
      waitForHttp(`http://127.0.0.1:${PORTS.naive}/stats`, naive),
      waitForHttp(`http://127.0.0.1:${PORTS.api}/healthz`, api),
      waitForHttp(`http://127.0.0.1:${PORTS.worker}/healthz`, worker),
    ]);
    cpuPids = { floor: floor.process.pid, naive: naive.process.pid, api: api.process.pid, worker: worker.process.pid };
    await db.connect();

    // Apps: 500 per integration (a team with more connects several accounts); the detection and
    // two-process apps in one more, each with a service and a Slack channel of its own.
    const call = async (method: string, url: string, body?: unknown) => {
      const response = await fetch(`http://127.0.0.1:${PORTS.api}${url}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
      if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
      return response.json() as Promise<{ id: string; drainUrls: { appName: string; url: string }[] }>;
    };
    const connect = async (name: string, apps: string[]) => {
      const { id } = await call('POST', '/api/v1/integrations/heroku', { name, monitoredApps: apps });
      const { drainUrls } = await call('GET', `/api/v1/integrations/heroku/${id}`);
      const first = targets.length;
      for (const drain of drainUrls) targets.push({ integrationId: id, app: drain.appName, path: new URL(drain.url).pathname });
      if (targets.length - first !== apps.length) throw new Error(`${name}: ${drainUrls.length} drain URLs for ${apps.length} apps`);
      return Array.from({ length: apps.length }, (_, i) => first + i);
    };
    const appNames = Array.from({ length: APPS }, (_, i) => `drain-app-${String(i + 1).padStart(5, '0')}`);
    for (let i = 0; i < APPS; i += 500) await connect(`bench ${i / 500 + 1}`, appNames.slice(i, i + 500));
    const detectNames = Array.from({ length: DETECT_APPS }, (_, i) => `detect-${String(i + 1).padStart(3, '0')}`);
    const special = await connect('bench detection', [...detectNames, 'pair-one', 'pair-two']);
    const detectTargets = special.slice(0, DETECT_APPS);
    const [pairOne, pairTwo] = ['pair-one', 'pair-two'].map((app) => special.find((t) => targets[t]!.app === app)!) as [number, number];
    for (const app of detectNames) await call('POST', '/api/v1/services', { name: app, herokuAppNames: [app], slackChannels: [`#${app}`] });

    /** Waits until the worker has applied every event stored so far (incidents opened by the traffic's own errors). */
    const workerIdle = async () => {
      const since = Date.now();
      await sleep(2_500); // an evaluator tick and its overlap
      for (let quiet = 0; quiet < 2 && Date.now() - since < 40_000; ) {
        const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE status = 'received'");
        quiet = rows[0]!.n === 0 ? quiet + 1 : 0;
        await sleep(500);
      }
      return (Date.now() - since) / 1000;
    };

    // Warm up each (JIT, connections, integration cache), then measure each, one at a time.
    for (const [receiver, port] of [['floor', PORTS.floor], ['naive', PORTS.naive], ['pulsebridge', PORTS.api]] as const) await saturate(receiver, port, saturationPool, WARMUP);
    await workerIdle();
    const floorRun = await saturate('floor', PORTS.floor, saturationPool, DURATION);
    const naiveRun = await saturate('naive', PORTS.naive, saturationPool, DURATION);
    const pbRun = await saturate('pulsebridge', PORTS.api, saturationPool, DURATION);
    await harvestFrameIds(redis, runId);
    sampleRss();
    const apiRssAfterSaturation = rssMb('api');
    apiMemory.push(`after saturation: ${(await apiRuntime(PORTS.api)).memory}`);
    const idleAfter = await workerIdle();

    // Fixed rate, with detection timed meanwhile.
    const detections: Detection[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling || detections.some((d) => d.incidentAt === undefined)) {
        const waiting = detections.filter((d) => d.incidentAt === undefined);
        if (waiting.length > 0) {
          const { rows } = await db.query<{ dedup_key: string }>('SELECT dedup_key FROM incidents WHERE dedup_key = ANY($1::text[])', [waiting.map((d) => d.dedupKey)]);
          const now = Date.now();
          for (const row of rows) for (const d of waiting) if (d.dedupKey === row.dedup_key) d.incidentAt = now;
        }
        if (!polling && detections.length > 0 && Date.now() - Math.max(...detections.map((d) => d.sentAt)) > 20_000) break;
        await sleep(20);
      }
    })();
    poller.catch(() => undefined); // awaited (and thrown) below
    const cpuBefore = cpuNow();
    // The API's own view of the run, to tell its pauses from the load generator's: reading its
    // metrics resets its event loop delay histogram, and GC time is a running sum.
    const apiBefore = await apiRuntime(PORTS.api);
    const fixedRun = await fixedRate(fixedPool, detectTargets, detections);
    const apiAfter = await apiRuntime(PORTS.api);
    apiMemory.push(`after the fixed-rate run: ${apiAfter.memory}`);
    apiDuringFixed = { loopP99Ms: apiAfter.loopP99Ms, loopMaxMs: apiAfter.loopMaxMs, gc: new Map([...apiAfter.gc].map(([kind, v]) => [kind, { count: v.count - (apiBefore.gc.get(kind)?.count ?? 0), seconds: v.seconds - (apiBefore.gc.get(kind)?.seconds ?? 0) }])) };
    fixedRun.cpu = new Map([...cpuBetween(cpuBefore, cpuNow())].map(([label, used]) => [label, used / fixedRun.seconds]));
    polling = false;
    await harvestFrameIds(redis, runId);
    sampleRss();
    const apiRssAfterFixed = rssMb('api');
    await poller;
    const slackDeadline = Date.now() + 10_000;
    const appPattern = /\bdetect-\d{3}\b/;
    for (;;) {
      for (const d of detections) {
        if (d.slackAt !== undefined) continue;
        const first = slack.posts.find((p) => p.threadTs === undefined && p.at >= d.sentAt && appPattern.exec(p.params)?.[0] === d.app);
        if (first) d.slackAt = first.at;
      }
      if (detections.every((d) => d.slackAt !== undefined) || Date.now() > slackDeadline) break;
      await sleep(100);
    }

    // Logplex retries a batch it got no answer for, with the same Logplex-Frame-Id: half after the
    // answer, half while the first is still in flight. Each must be counted once.
    for (let i = 0; i < RETRIES; i += 1) {
      const n = record('pulsebridge', (i * 97) % APPS, saturationPool[i]!);
      const answers = i % 2 === 0 ? [await send(n, PORTS.api), await send(n, PORTS.api)] : await Promise.all([send(n, PORTS.api), send(n, PORTS.api)]);
      if (answers.some((answer) => answer.status !== 204)) throw new Error(`a retried batch was answered ${answers.map((a) => a.status).join(', ')}`);
    }

    // Two API processes: one app's bodies all through the first, another app's (the same bodies)
    // split between both, concurrently; both must end with the same incidents and counts.
    const api2 = start('api2', path.join(repo, 'apps/api/dist/main.js'), { ...env, PORT: String(PORTS.api2) });
    await waitForHttp(`http://127.0.0.1:${PORTS.api2}/healthz`, api2);
    const toMinute = 60_000 - (Date.now() % 60_000);
    if (toMinute < 6_000) await sleep(toMinute + 250);
    const pairBodies = saturationPool.slice(100, 160);
    for (let k = 0; k < pairBodies.length; k += 2) {
      const answers = await Promise.all([
        send(record('pulsebridge', pairOne, pairBodies[k]!), PORTS.api),
        send(record('pulsebridge', pairOne, pairBodies[k + 1]!), PORTS.api),
        send(record('pulsebridge', pairTwo, pairBodies[k]!), PORTS.api),
        send(record('pulsebridge', pairTwo, pairBodies[k + 1]!), PORTS.api2),
      ]);
      if (answers.some((answer) => answer.status !== 204)) throw new Error(`a pair body was answered ${answers.map((a) => a.status).join(', ')}`);
    }
    const incidentsOf = async (app: string) =>
      (await db.query<{ dedup_key: string; entity: string; severity: string; alert_count: number; status: string; title: string }>('SELECT dedup_key, entity, severity::text, alert_count, status::text, title FROM incidents WHERE app_name = $1 ORDER BY dedup_key', [app])).rows;
    const normalized = (rows: Awaited<ReturnType<typeof incidentsOf>>, app: string) => rows.map((row) => `${row.dedup_key.replace(app, '<app>')} ${row.severity} ${row.alert_count} ${row.status}`).join('; ');
    let one = '';
    let two = '';
    let pairRows: Awaited<ReturnType<typeof incidentsOf>> = [];
    for (let stable = 0, waited = 0; stable < 3 && waited < 40; waited += 1) {
      await sleep(1_000);
      pairRows = await incidentsOf('pair-two');
      const [a, b] = [normalized(await incidentsOf('pair-one'), 'pair-one'), normalized(pairRows, 'pair-two')];
      stable = a === one && b === two && a !== '' ? stable + 1 : 0;
      [one, two] = [a, b];
    }
    const apiMetrics = async (port: number) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const outcome = (name: string) => Number(new RegExp(`pulsebridge_ingress_requests_total\\{(?=[^}]*endpoint="heroku_drain")(?=[^}]*outcome="${name}")[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
      return { accepted: outcome('accepted'), duplicate: outcome('duplicate') };
    };
    const api2Metrics = await apiMetrics(PORTS.api2);
    await stop(api2);

    // Exact counts: the frame ids counted in Redis name the bodies counted; their frames and
    // signals, summed per app, must be exactly what the minute buckets hold.
    const metrics1 = await apiMetrics(PORTS.api);
    await harvestFrameIds(redis, runId);
    const counted = new Set<number>();
    const problems: string[] = [];
    const expected = new Map<string, Map<string, number>>();
    const addTo = (map: Map<string, Map<string, number>>, key: string, field: string, value: number) => {
      let fields = map.get(key);
      if (fields === undefined) map.set(key, (fields = new Map()));
      fields.set(field, (fields.get(field) ?? 0) + value);
    };
    let strays = 0;
    let twice = 0;
    for (const [n, { integrationId, app, frameId, keys }] of remembered) {
      const entry = sent[n];
      const target = entry && targets[entry.target];
      if (!entry || !target || entry.receiver !== 'pulsebridge' || target.integrationId !== integrationId || target.app !== app) {
        strays += 1;
        if (strays <= 3) problems.push(`frame ${frameId} of ${app} counted but never sent there`);
        continue;
      }
      if (keys.size > 1 && (twice += 1) <= 3) problems.push(`frame ${frameId} of ${app} remembered in ${keys.size} minutes`);
      counted.add(n);
      const body = bodies[entry.body]!;
      addTo(expected, `${integrationId}:${app}`, 'lines', body.frames);
      for (const [field, count] of body.fields) addTo(expected, `${integrationId}:${app}`, field, count);
    }
    let answered = 0;
    let lost = 0;
    let lateCounted = 0;
    let unanswered = 0;
    for (const [n, entry] of sent.entries()) {
      if (entry.receiver !== 'pulsebridge') continue;
      if (entry.status === 204) {
        answered += 1;
        if (!counted.has(n)) lost += 1;
      } else if (entry.status === 0) {
        unanswered += 1;
        if (counted.has(n)) lateCounted += 1;
      } else problems.push(`frame ${frameIdOf(n)} answered ${entry.status}`);
    }
    if (strays > 3) problems.push(`${strays - 3} more frames counted but never sent there`);
    if (twice > 3) problems.push(`${twice - 3} more frames remembered in several minutes`);
    if (lost > 0) problems.push(`${lost} bodies answered 204 but not remembered as counted`);
    const bucketKeys = await scan(redis, `${runId}:drain:w:*`);
    const actual = new Map<string, Map<string, number>>();
    for (let i = 0; i < bucketKeys.length; i += 1000) {
      const slice = bucketKeys.slice(i, i + 1000);
      const pipeline = redis.pipeline();
      for (const key of slice) pipeline.hgetall(key);
      const results = (await pipeline.exec()) ?? [];
      slice.forEach((key, index) => {
        const [integrationId, app] = key.slice(`${runId}:drain:w:`.length).split(':');
        const hash = (results[index]?.[1] ?? {}) as Record<string, string>;
        for (const field in hash) addTo(actual, `${integrationId}:${app}`, field, Number(hash[field]));
      });
    }
    const totals = (map: Map<string, Map<string, number>>) => {
      const sum = new Map<string, number>();
      for (const fields of map.values()) for (const [field, count] of fields) sum.set(field, (sum.get(field) ?? 0) + count);
      return sum;
    };
    let differing = 0;
    for (const key of new Set([...expected.keys(), ...actual.keys()])) {
      const want = expected.get(key) ?? new Map<string, number>();
      const got = actual.get(key) ?? new Map<string, number>();
      for (const field of new Set([...want.keys(), ...got.keys()])) {
        if ((want.get(field) ?? 0) !== (got.get(field) ?? 0)) {
          differing += 1;
          if (differing <= 5) problems.push(`${key} ${field}: expected ${want.get(field) ?? 0}, Redis has ${got.get(field) ?? 0}`);
        }
      }
    }
    if (differing > 5) problems.push(`${differing - 5} more app fields differ`);
    if (metrics1.duplicate !== RETRIES) problems.push(`${RETRIES} retries sent, the API saw ${metrics1.duplicate} duplicates`);
    if (metrics1.accepted + api2Metrics.accepted !== counted.size) problems.push(`the APIs accepted ${metrics1.accepted + api2Metrics.accepted} bodies, ${counted.size} frame ids are counted`);
    const expectedTotals = totals(expected);
    const actualTotals = totals(actual);
    const pairBuckets = [pairOne, pairTwo].map((t) => [...(actual.get(`${targets[t]!.integrationId}:${targets[t]!.app}`) ?? new Map<string, number>())].sort().join(','));
    const floorStats = (await (await fetch(`http://127.0.0.1:${PORTS.floor}/stats`)).json()) as { frames: number };
    const naiveStats = (await (await fetch(`http://127.0.0.1:${PORTS.naive}/stats`)).json()) as { lines: number };
    const sentTo = (receiver: Receiver, statuses: number[]) => sent.filter((e) => e.receiver === receiver && statuses.includes(e.status)).reduce((sum, e) => sum + bodies[e.body]!.frames, 0);
    let naiveIncrements = 0;
    const naiveKeys = await scan(redis, `${runId}-naive:*`);
    for (let i = 0; i < naiveKeys.length; i += 1000) for (const value of await redis.mget(naiveKeys.slice(i, i + 1000))) naiveIncrements += Number(value);
    const naiveErrorLines = sent.filter((e) => e.receiver === 'naive' && e.status === 204).reduce((sum, e) => sum + bodies[e.body]!.errorLines, 0);
    const stormIncidents = (await db.query<{ n: number; alerts: number }>("SELECT count(*)::int AS n, coalesce(sum(alert_count), 0)::int AS alerts FROM incidents WHERE app_name LIKE 'drain-app-%'")).rows[0]!;
    sampleRss();

    // Report.
    const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;
    const cpuLine = (run: Run) =>
      [...run.cpu]
        .filter(([, cores]) => cores >= 0.01)
        .sort((a, b) => b[1] - a[1])
        .map(([label, cores]) => `${label} ${cores.toFixed(2)}`)
        .join(', ');
    console.log('');
    console.log('receiver                                          lines/s     req/s      p50      p99   RSS max');
    const row = (name: string, run: Run, rss: number) =>
      console.log(`${name.padEnd(46)} ${int(linesPerS(run)).padStart(11)} ${int(reqPerS(run)).padStart(9)} ${ms(run.p50).padStart(8)} ${ms(run.p99).padStart(8)} ${`${rss.toFixed(0)} MB`.padStart(9)}`);
    row('floor (node:http, count frames)', floorRun, rssMb('floor'));
    row('naive (express, split, regex, INCR per error)', naiveRun, rssMb('naive'));
    row('pulsebridge (full parse, counts, detection)', pbRun, rssMb('api'));
    row(`pulsebridge at a fixed ${int(RATE)} req/s (${args['fixed-frames']} fr.)`, fixedRun, rssMb('api'));
    const ratio = linesPerS(pbRun) / linesPerS(naiveRun);
    console.log(`ratio pulsebridge / naive: ${ratio.toFixed(2)}x lines/s (target >= ${TARGETS.ratio.toFixed(1)}x); pulsebridge / floor: ${(linesPerS(pbRun) / linesPerS(floorRun)).toFixed(2)}x`);
    console.log(`p99 target < ${TARGETS.fixedP99Ms} ms applies at the fixed rate (${int(fixedRun.answered)} of ${int(RATE * FIXED_DURATION)} requests answered 204 in ${fixedRun.seconds.toFixed(1)} s, max ${ms(fixedRun.max)}); at full load, latency is what ${CONNECTIONS} connections queue`);
    const secondP99s = fixedRun.perSecond.map((second) => second.p99);
    if (apiDuringFixed !== undefined) {
      const gc = [...apiDuringFixed.gc].filter(([, v]) => v.count > 0).map(([kind, v]) => `${kind} ${v.count} (${(v.seconds * 1000).toFixed(0)} ms)`).join(', ');
      console.log(`the API during the fixed-rate run (its own metrics): event loop delay p99 ${apiDuringFixed.loopP99Ms.toFixed(1)} ms, max ${apiDuringFixed.loopMaxMs.toFixed(1)} ms; GC ${gc || 'none'}`);
    }
    console.log(`fixed rate, p99 of each second sent: median ${ms(percentile(secondP99s, 50))}, worst ${ms(Math.max(...secondP99s))} (the second from ${fixedRun.perSecond.reduce((a, b) => (b.p99 > a.p99 ? b : a)).clock} UTC); ${secondP99s.filter((p99) => p99 >= TARGETS.fixedP99Ms).length} of ${secondP99s.length} seconds at or over ${TARGETS.fixedP99Ms} ms`);
    console.log(`CPU in cores during each run: floor [${cpuLine(floorRun)}]; naive [${cpuLine(naiveRun)}]; pulsebridge [${cpuLine(pbRun)}]; fixed rate [${cpuLine(fixedRun)}]`);
    const inc = detections.filter((d) => d.incidentAt !== undefined).map((d) => d.incidentAt! - d.sentAt);
    const posted = detections.filter((d) => d.slackAt !== undefined).map((d) => d.slackAt! - d.sentAt);
    const dist = (values: number[]) => `p50 ${ms(percentile(values, 50))}  p99 ${ms(percentile(values, 99))}  max ${ms(Math.max(...values))}  (${values.length} of ${detections.length})`;
    console.log(`detection during the fixed-rate run, from the body whose line crosses a threshold (H12 5 in 1 min on web, R14 3 in 5 min on worker), worker evaluating every 1000 ms:`);
    console.log(`  -> incident row:  ${dist(inc)}   (PostgreSQL polled every 20 ms)`);
    console.log(`  -> Slack post:    ${dist(posted)}   (target p99 < ${TARGETS.detectionP99Ms} ms for both)`);
    console.log(`the throughput runs' own errors opened ${int(stormIncidents.n)} incidents (${int(stormIncidents.alerts)} alerts) on ${int(APPS)} apps; the worker applied them within ${idleAfter.toFixed(1)} s of the pulsebridge run's end`);
    console.log(`the API's memory (its own metrics) ${apiMemory.join('; ')}`);
    console.log(`RSS max: api ${rssMb('api').toFixed(0)} MB (${apiRssAfterSaturation.toFixed(0)} MB by the end of its saturation run, ${apiRssAfterFixed.toFixed(0)} MB by the end of the fixed-rate run), second api ${rssMb('api2').toFixed(0)} MB (target < ${TARGETS.apiRssMb} MB each), worker ${rssMb('worker').toFixed(0)} MB, floor ${rssMb('floor').toFixed(0)} MB, naive ${rssMb('naive').toFixed(0)} MB`);
    const errorFields = [...expectedTotals].filter(([field]) => field !== 'lines' && !field.endsWith(' req')).sort();
    console.log(
      `exact counts: ${int(answered)} bodies answered 204 by pulsebridge, ${int(unanswered)} left unanswered when a load run stopped (${lateCounted} of them counted: answered after the sender stopped), ${RETRIES} retried with the same Logplex-Frame-Id (${metrics1.duplicate} duplicates refused); ` +
        `Redis buckets on ${int(actual.size)} apps hold ${int(actualTotals.get('lines') ?? 0)} lines, ${int(actualTotals.get('web req') ?? 0)} router requests, ${errorFields.map(([field]) => `${int(actualTotals.get(field) ?? 0)} ${field}`).join(', ')}; ` +
        `expected from the ${int(counted.size)} bodies counted: ${differing === 0 && (expectedTotals.get('lines') ?? 0) === (actualTotals.get('lines') ?? 0) ? 'the same, per app and field' : `${differing} app fields differ`}`,
    );
    console.log(`baselines did their work: floor counted ${int(floorStats.frames)} frames (${int(sentTo('floor', [204]))} in bodies it answered, ${int(sentTo('floor', [0]))} more in flight); naive split ${int(naiveStats.lines)} lines (${int(sentTo('naive', [204]))} + ${int(sentTo('naive', [0]))}) and made ${int(naiveIncrements)} INCRs (${int(naiveErrorLines)} error lines in bodies it answered)`);
    const sameIncidents = one !== '' && one.replace(/pair-one/g, '') === two.replace(/pair-two/g, '') && pairBuckets[0] === pairBuckets[1];
    console.log(`two API processes: 60 bodies for pair-one all through one API, the same 60 for pair-two split between two APIs concurrently: incidents one [${one}] two [${two}]; buckets ${pairBuckets[0] === pairBuckets[1] ? 'equal' : `differ: ${pairBuckets.join(' / ')}`} (${pairRows.map((r) => r.title).join('; ')})`);
    console.log('figures compare only within one run: the load generator, the receivers, the worker, Redis and PostgreSQL share this machine\'s cores');
    const disturbed = ([['floor', floorRun], ['naive', naiveRun], ['pulsebridge', pbRun], ['fixed-rate', fixedRun]] as const).filter(([, run]) => (run.cpu.get('other') ?? 0) >= 0.15);
    if (disturbed.length > 0) console.log(`warning: processes outside this bench used CPU during ${disturbed.map(([name, run]) => `the ${name} run (${(run.cpu.get('other') ?? 0).toFixed(2)} cores)`).join(', ')}: the figures of ${disturbed.length === 1 ? 'that run are' : 'those runs are'} lower than on a quiet machine`);

    const misses: string[] = [...problems];
    if (ratio < TARGETS.ratio) misses.push(`lines/s ratio pulsebridge / naive ${ratio.toFixed(2)} < ${TARGETS.ratio}`);
    if (fixedRun.p99 >= TARGETS.fixedP99Ms) misses.push(`p99 at ${RATE} req/s is ${ms(fixedRun.p99)} >= ${TARGETS.fixedP99Ms} ms`);
    if (fixedRun.answered < RATE * FIXED_DURATION * 0.99) misses.push(`only ${fixedRun.answered} of ${RATE * FIXED_DURATION} fixed-rate requests answered 204`);
    if (fixedRun.seconds > FIXED_DURATION * 1.05) misses.push(`the fixed rate was not kept up: ${int(reqPerS(fixedRun))} of ${int(RATE)} req/s`);
    if (pbRun.other + pbRun.errors + fixedRun.other + fixedRun.errors > 0) misses.push('pulsebridge answered errors under load');
    if (inc.length < detections.length || detections.length < DETECT_APPS) misses.push(`${DETECT_APPS - inc.length} crossings opened no incident`);
    if (posted.length < detections.length) misses.push(`${detections.length - posted.length} crossings reached no Slack post`);
    if (percentile(inc, 99) >= TARGETS.detectionP99Ms) misses.push('detection -> incident p99');
    if (percentile(posted, 99) >= TARGETS.detectionP99Ms) misses.push('detection -> Slack p99');
    if (rssMb('api') >= TARGETS.apiRssMb || rssMb('api2') >= TARGETS.apiRssMb) misses.push('API RSS');
    if (!sameIncidents) misses.push('two API processes did not give the same incidents and counts as one');

    const results = {
      at: new Date().toISOString(),
      options: { duration: DURATION, connections: CONNECTIONS, frames: args.frames, fixedFrames: args['fixed-frames'], apps: APPS, rate: RATE, bodyBytes: Math.round(meanBytes) },
      runs: Object.fromEntries(
        (
          [
            ['floor', floorRun],
            ['naive', naiveRun],
            ['pulsebridge', pbRun],
            ['pulsebridgeFixedRate', fixedRun],
          ] as const
        ).map(([name, run]) => [name, { linesPerS: linesPerS(run), reqPerS: reqPerS(run), p50: run.p50, p99: run.p99, cpuCores: Object.fromEntries(run.cpu) }]),
      ),
      ratio,
      fixedRatePerSecond: fixedRun.perSecond,
      detection: { incidentMs: inc, slackMs: posted },
      rssMb: Object.fromEntries(children.map((child) => [child.label, child.maxRssKb / 1024])),
      exact: { answered, counted: counted.size, unanswered, lateCounted, retries: RETRIES, duplicates: metrics1.duplicate, differing },
      twoApis: { one, two, sameIncidents },
      misses,
    };
    mkdirSync(path.join(repo, 'bench/results'), { recursive: true });
    writeFileSync(path.join(repo, 'bench/results/drain.json'), `${JSON.stringify(results, null, 2)}\n`);
    printVerdict(misses, 'all drain targets met');
  } finally {
    clearInterval(rssTimer);
    await Promise.all(children.map(stop));
    agent.destroy();
    ownAgent.destroy();
    await db.end().catch(() => undefined);
    await slack.close();
    redis.disconnect();
    await dropBenchData(args.pg, args.redis, runId, { keepDatabase: args.keep });
    if (args.keep) console.log(`kept database ${databaseUrl}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
