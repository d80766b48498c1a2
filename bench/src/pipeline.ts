// bench/pipeline: the whole pipeline under a realistic mix of Heroku deliveries at a fixed rate.
//
//   npm run bench:pipeline [-- --rate 500 --duration 60 --apps 200]
//
// Starts the API and a worker (real PostgreSQL and Redis, a Slack receiver on loopback), sends
// signed deliveries at a fixed rate, then prints webhook-to-incident and webhook-to-Slack
// latency, the sustained rate, peak RSS per process and an exact correctness check. Exits 1
// when a target is missed.
import { fork, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { BENCH_SERVER_OPTIONS, createBenchDatabase, dropBenchData } from './bench-database.js';
import { writeLatencyPlot } from './latency-plot.js';
import { cpuBetween, cpuSnapshot } from './process-cpu.js';
import { printVerdict } from './verdict.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '500' },
    duration: { type: 'string', default: '60' },
    /** Seconds of traffic on other apps first, ramping up to the rate, not measured (connections, plans, JIT). */
    warmup: { type: 'string', default: '10' },
    apps: { type: 'string', default: '200' },
    ...BENCH_SERVER_OPTIONS,
    /** Keep the database afterwards, to look at its data and query plans. */
    keep: { type: 'boolean', default: false },
    /** Write V8 CPU profiles of the API and the worker into this folder. */
    profile: { type: 'string' },
    /** Give every service an escalation policy (critical incidents mention an on-call user in their thread). */
    escalation: { type: 'boolean', default: false },
  },
});
const RATE = Number(args.rate);
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const APPS = Number(args.apps);
const TARGETS = { incidentP99Ms: 250, slackP99Ms: 500, workerRssMb: 200, pulseP99Ms: 5_000 };
/**
 * Deploy pulses yield to pages, so their target holds only while the pipeline keeps up: when the
 * backlog drains within this long of the last delivery. Above capacity, only correctness counts for them.
 */
const KEPT_UP_DRAIN_S = 10;

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const runId = `pbpipe_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const databaseUrl = `${args.pg}/${runId}`;
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const SLACK_TOKEN = 'xoxb-bench';

/** A Slack Web API that answers like Slack and records when each post arrives. */
async function startSlackReceiver() {
  const posts: { at: number; channel: string; text: string; threadTs?: string }[] = [];
  /** Calls per Web API method: the searches a retried post makes show up here. */
  const calls = new Map<string, number>();
  let ts = 1_764_000_000_000_000;
  const body = (req: IncomingMessage) => new Promise<string>((resolve) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => resolve(data));
  });
  const server = createServer(async (req, res) => {
    const params = Object.fromEntries(new URLSearchParams(await body(req)));
    const method = req.url?.split('/').pop() ?? '';
    calls.set(method, (calls.get(method) ?? 0) + 1);
    const answer = (value: object) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: true, ...value }));
    if (method === 'chat.postMessage') {
      ts += 1;
      const stamp = `${Math.floor(ts / 1e6)}.${String(ts % 1e6).padStart(6, '0')}`;
      posts.push({ at: Date.now(), channel: params.channel ?? '', text: params.text ?? '', ...(params.thread_ts && { threadTs: params.thread_ts }) });
      return answer({ channel: `C${(params.channel ?? '').replace(/\W/g, '').toUpperCase().slice(0, 10)}`, ts: stamp });
    }
    if (method === 'chat.update') return answer({ channel: params.channel, ts: params.ts });
    if (method === 'conversations.list') return answer({ channels: [], response_metadata: { next_cursor: '' } });
    return answer({ messages: [], has_more: false });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, posts, calls, close: () => new Promise((resolve) => server.close(resolve)) };
}

interface Delivery {
  app: string;
  body: string;
  /** The Slack text of the pulse this delivery makes first, when it makes one. */
  pulse?: string;
  /** The dedup key of the incident this delivery opens, when it opens one. */
  opens?: string;
}

/**
 * The workload, as a list of deliveries in sending order with the exact results they must
 * produce. Per app, in turn (each app starting at a different one): a dyno crash cycle (crash, crash again, up), a build (pending,
 * failed) and the next build (pending, succeeded), a release with a release phase (create
 * pending, non-current update, current update), a formation scale; 5% are redelivered.
 */
function buildWorkload(total: number, apps: string[]) {
  const expected = { incidents: new Map<string, { alerts: number; status: string }>(), pulses: 0, slackRoots: 0 };
  // Each app gets its own ordered list of deliveries; the lists are then interleaved, so one
  // app's consecutive events are a full round over the apps apart (as in real life: a dyno
  // does not crash twice in ten milliseconds).
  const perApp = new Map<string, object[][]>(apps.map((app) => [app, []]));
  let clock = Date.UTC(2026, 10, 24, 9, 0, 0);
  const at = () => new Date((clock += 10)).toISOString();
  const opens = new Map<object, string>();
  // The Slack text of the pulse a delivery makes, for the first delivery making each text.
  const makesPulse = new Map<object, string>();
  const pulseTexts = new Set<string>();
  let planned = 0;
  for (let cycle = 0; planned < total; cycle += 1) {
    for (const [index, app] of apps.entries()) {
      if (planned >= total) break;
      const steps = perApp.get(app)!;
      // Apps start at different points of the cycle, so even a short run has the whole mix.
      const kind = (cycle + index) % 4;
      const add = (payload: object, key?: string, pulse?: string) => {
        steps.push([payload]);
        if (key) opens.set(payload, key);
        if (pulse && !pulseTexts.has(pulse)) {
          pulseTexts.add(pulse);
          makesPulse.set(payload, pulse);
        }
        planned += 1;
      };
      if (kind === 0) {
        const dyno = `web.${cycle + 1}`;
        const key = `heroku:${app}:dyno:${dyno}`;
        const dynoEvent = (state: string) => {
          const id = randomUUID();
          return { id, data: { app: { name: app }, name: dyno, state, management: 'formation', exit_status: state === 'crashed' ? 1 : null }, created_at: at(), webhook_metadata: { event: { id, include: 'dyno' } } };
        };
        add(dynoEvent('crashed'), key);
        add(dynoEvent('crashed'));
        add(dynoEvent('up'));
        expected.incidents.set(key, { alerts: 2, status: 'resolved' });
        expected.slackRoots += 1;
      } else if (kind === 1) {
        const key = `heroku:${app}:build`;
        const build = (id: string, status: string) => ({ id: randomUUID(), resource: 'build', action: status === 'pending' ? 'create' : 'update', data: { id, app: { name: app }, status, source_blob: { version: randomBytes(20).toString('hex') } }, actor: { email: 'dev@example.com' }, created_at: at(), updated_at: at() });
        const first = randomUUID();
        const second = randomUUID();
        const summary = (status: string) => `[Heroku][Build] ${app} ${status}`;
        add(build(first, 'pending'), undefined, summary('pending'));
        add(build(first, 'failed'), key, summary('failed'));
        add(build(second, 'pending'), undefined, summary('pending'));
        add(build(second, 'succeeded'), undefined, summary('succeeded'));
        expected.incidents.set(`${key}#${cycle}`, { alerts: 1, status: 'resolved' });
        expected.pulses += 4;
        expected.slackRoots += 1 + 4;
      } else if (kind === 2) {
        const releaseId = randomUUID();
        const key = `heroku:${app}:release:${releaseId}`;
        const release = (action: string, status: string, current: boolean) => ({ id: randomUUID(), resource: 'release', action, data: { id: releaseId, app: { name: app }, status, current, version: cycle, description: `Deploy ${randomBytes(4).toString('hex')}`, slug: { commit: randomBytes(20).toString('hex') } }, actor: { email: 'dev@example.com' }, created_at: at(), updated_at: at() });
        const created = release('create', 'pending', false);
        const current = release('update', 'succeeded', true);
        add(created, key, `[Heroku][Release] ${created.data.description}`);
        add(release('update', 'succeeded', false));
        add(current, undefined, `[Heroku][Release] ${current.data.description}`);
        expected.incidents.set(key, { alerts: 3, status: 'triggered' });
        expected.pulses += 2;
        expected.slackRoots += 1 + 2;
      } else {
        const key = `heroku:${app}:formation:worker`;
        const previous = expected.incidents.get(key);
        // Only the app's first scaling opens the incident; later ones group into it.
        add({ id: randomUUID(), resource: 'formation', action: 'update', data: { app: { name: app }, type: 'worker', quantity: cycle, size: 'Standard-1X' }, previous_data: { quantity: cycle - 1 }, created_at: at(), updated_at: at() }, previous ? undefined : key);
        expected.incidents.set(key, { alerts: (previous?.alerts ?? 0) + 1, status: 'triggered' });
        if (!previous) expected.slackRoots += 1;
      }
    }
  }
  const deliveries: Delivery[] = [];
  const longest = Math.max(...[...perApp.values()].map((steps) => steps.length));
  for (let step = 0; step < longest; step += 1) {
    for (const app of apps) {
      const payload = perApp.get(app)![step]?.[0];
      if (payload === undefined) continue;
      const key = opens.get(payload);
      const pulse = makesPulse.get(payload);
      deliveries.push({ app, body: JSON.stringify(payload), ...(key && { opens: key }), ...(pulse && { pulse }) });
      // Heroku redelivers about 5% (retries, Private Space duplicates): they must change nothing.
      if (Math.random() < 0.05) deliveries.push({ app, body: JSON.stringify(payload) });
    }
  }
  return { deliveries, expected };
}

/** The sender: plain node:http with kept-alive connections, so the load generator costs little CPU. */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
function post(url: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function startProcess(script: string, env: Record<string, string>, execArgv: string[] = []): ChildProcess {
  return fork(path.join(repo, script), [], { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

/** Peak resident memory of a process (Linux VmHWM), in MB. */
function peakRssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN) / 1024;
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

async function main() {
  await createBenchDatabase(args.pg, runId);
  const slack = await startSlackReceiver();
  // The workload is measured under Squadcast's full table (every release and formation change
  // opens or counts on an incident), the defaults the figures in the README were taken with.
  const configDir = mkdtempSync(path.join(tmpdir(), 'pulsebridge-bench-config-'));
  writeFileSync(path.join(configDir, 'rules.yaml'), 'preset: squadcast\n');
  copyFileSync(path.join(repo, 'config', 'slack.yaml'), path.join(configDir, 'slack.yaml'));
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: args.redis,
    ADMIN_TOKEN,
    SECRET_KEY: randomBytes(32).toString('hex'),
    QUEUE_PREFIX: runId,
    PORT: '3280',
    WORKER_PORT: '3281',
    LOG_LEVEL: 'warn',
    SLACK_BOT_TOKEN: SLACK_TOKEN,
    SLACK_API_URL: slack.url,
    CONFIG_DIR: configDir,
  };
  const profileFlags = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : [];
  const api = startProcess('apps/api/dist/main.js', env, profileFlags);
  // The worker runs with the heap flags `npm start` and the Procfile give it (scripts/lib.mjs).
  const workerFlags = ['--max-old-space-size=128'];
  const worker = startProcess('apps/worker/dist/main.js', env, [...workerFlags, ...profileFlags]);
  const db = new pg.Client({ connectionString: databaseUrl });
  try {
    for (let i = 0; ; i += 1) {
      try {
        if ((await fetch('http://127.0.0.1:3280/healthz')).ok) break;
      } catch {
        if (i > 200) throw new Error('API did not start');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const call = (method: string, url: string, body: unknown) =>
      fetch(`http://127.0.0.1:3280${url}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ id: string; secret: string }>);
    const apps = Array.from({ length: APPS }, (_, i) => `bench-app-${i}`);
    // One warm-up app per warm-up delivery: each gets only the first step of its cycle, the same
    // mix (three in four open an incident) the measured part starts with. With fewer apps the
    // ramp would end in their lighter second round, and the measured part would start with a
    // step in load that no steady mix has.
    const warmupDeliveries = Math.round((RATE * WARMUP) / 2);
    const warmupApps = WARMUP > 0 ? Array.from({ length: Math.max(500, warmupDeliveries) }, (_, i) => `warmup-app-${i}`) : [];
    const allApps = [...warmupApps, ...apps];
    // An integration monitors at most 500 apps: a team with more connects several accounts.
    const integrationOf = new Map<string, { id: string; secret: string }>();
    for (let i = 0; i < allApps.length; i += 500) {
      const monitoredApps = allApps.slice(i, i + 500);
      const integration = await call('POST', '/api/v1/integrations/heroku', { name: `bench ${i / 500 + 1}`, monitoredApps });
      if (typeof integration.secret !== 'string') throw new Error(`could not create an integration: ${JSON.stringify(integration)}`);
      for (const app of monitoredApps) integrationOf.set(app, integration);
    }
    // One service and channel per app, as a team with many apps would set it up.
    for (let i = 0; i < allApps.length; i += 50) {
      await Promise.all(
        allApps.slice(i, i + 50).map(async (app) => {
          const service = await call('POST', '/api/v1/services', { name: app, herokuAppNames: [app], slackChannels: [`#${app}`] });
          if (args.escalation) await call('PUT', `/api/v1/services/${service.id}/escalation`, { minSeverity: 'critical', levels: [{ targets: ['U0ONCALL1'], delayMinutes: 30 }, { targets: ['S0LEADS01'], delayMinutes: 30 }] });
        }),
      );
    }
    await db.connect();

    // The warm-up's deliveries go first; their results count for correctness, not for latency.
    // Ramping linearly from zero to the rate sends rate * warmup / 2 deliveries.
    const warmup = buildWorkload(warmupDeliveries, warmupApps);
    const measured = buildWorkload(RATE * DURATION, apps);
    const deliveries = [...warmup.deliveries, ...measured.deliveries];
    const expected = {
      incidents: new Map([...warmup.expected.incidents, ...measured.expected.incidents]),
      pulses: warmup.expected.pulses + measured.expected.pulses,
      slackRoots: warmup.expected.slackRoots + measured.expected.slackRoots,
    };
    const firstMeasured = warmup.deliveries.length;
    const signed = deliveries.map((d) => {
      const integration = integrationOf.get(d.app)!;
      return { ...d, url: `http://127.0.0.1:3280/webhooks/heroku/${integration.id}`, signature: createHmac('sha256', integration.secret).update(d.body).digest('base64') };
    });
    /** Per dedup key, when each delivery that opens an incident of it was accepted, in order (a key's build incidents reopen every cycle). */
    const openedAt = new Map<string, number[]>();
    const pulseAcceptedAt = new Map<string, number>();
    let accepted = 0;
    let acceptedMeasured = 0;
    let refused = 0;
    const inflight = new Set<Promise<void>>();
    console.log(`bench/pipeline: ${signed.length} deliveries: ${WARMUP} s ramping up to ${RATE}/s (not measured), then ${RATE}/s for ${DURATION} s, ${APPS} apps (one service and Slack channel each), ${expected.incidents.size} incidents and ${expected.pulses} pulses expected`);

    // How much Slack work waits in the queue while deliveries arrive (sampled twice a second).
    const sampler = new Redis(args.redis);
    const slackBacklog: { waiting: number; delayed: number }[] = [];
    const sampling = setInterval(() => {
      void Promise.all([sampler.zcard(`${runId}:slack:prioritized`), sampler.llen(`${runId}:slack:wait`), sampler.zcard(`${runId}:slack:delayed`)])
        .then(([prioritized, wait, delayed]) => slackBacklog.push({ waiting: prioritized + wait, delayed }))
        .catch(() => undefined);
    }, 500);
    const processes = { api: api.pid, worker: worker.pid, 'bench client': process.pid };
    const cpuBefore = cpuSnapshot(processes);
    const sendStart = Date.now();
    let started = sendStart;
    const warmupMs = WARMUP * 1000;
    for (let i = 0; i < signed.length; i += 1) {
      // During the warm-up the rate grows linearly to RATE: delivery i of n is due at
      // warmup * sqrt(i / n). (n counts the redeliveries too, so the ramp ends exactly when the
      // measured part starts, instead of overrunning it and sending a burst at its start.)
      const due = i < firstMeasured ? sendStart + warmupMs * Math.sqrt(i / firstMeasured) : sendStart + warmupMs + ((i - firstMeasured) * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const delivery = signed[i]!;
      if (i === firstMeasured) started = Date.now();
      const isMeasured = i >= firstMeasured;
      const sent = post(delivery.url, delivery.body, { 'content-type': 'application/json', 'heroku-webhook-hmac-sha256': delivery.signature })
        .then((status) => {
          if (status !== 202) {
            refused += 1;
            return;
          }
          accepted += 1;
          if (isMeasured) acceptedMeasured += 1;
          if (isMeasured && delivery.opens) openedAt.set(delivery.opens, [...(openedAt.get(delivery.opens) ?? []), Date.now()]);
          if (isMeasured && delivery.pulse) pulseAcceptedAt.set(delivery.pulse, Date.now());
        })
        .catch(() => {
          refused += 1;
        });
      inflight.add(sent);
      void sent.finally(() => inflight.delete(sent));
    }
    await Promise.all(inflight);
    clearInterval(sampling);
    sampler.disconnect();
    const sendSeconds = (Date.now() - sendStart) / 1000;
    const measuredSeconds = (Date.now() - started) / 1000;

    // Wait for the backlog to drain: every event applied and every Slack job done.
    const redis = new Redis(args.redis);
    const drainStart = Date.now();
    for (;;) {
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE status = 'received'");
      const slackWaiting =
        (await redis.zcard(`${runId}:slack:delayed`)) + (await redis.zcard(`${runId}:slack:prioritized`)) + (await redis.llen(`${runId}:slack:wait`)) + (await redis.llen(`${runId}:slack:active`));
      if (rows[0]!.n === 0 && slackWaiting === 0) break;
      if (Date.now() - drainStart > 120_000) {
        const keys = await redis.keys(`${runId}:slack:*`);
        const sizes = await Promise.all(keys.map(async (key) => `${key.slice(runId.length + 1)}=${await redis.type(key)}`));
        throw new Error(`the pipeline did not drain within 120 s: ${rows[0]!.n} events received, slack waiting ${slackWaiting}; keys ${sizes.slice(0, 12).join(' ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const drainSeconds = (Date.now() - drainStart) / 1000;
    const cpuUsed = cpuBetween(cpuBefore, cpuSnapshot(processes));
    redis.disconnect();
    const workerMetrics = await fetch('http://127.0.0.1:3281/metrics').then((response) => response.text());

    const incidents = await db.query<{ dedup_key: string; alert_count: number; status: string; created_at: Date }>('SELECT dedup_key, alert_count, status::text, created_at FROM incidents');
    // The n-th incident of a key (by creation) was opened by the n-th delivery opening it.
    const pointsByKey = (times: Map<string, number[]>): [number, number][] =>
      [...times].flatMap(([key, list]) =>
        list.sort((a, b) => a - b).flatMap((at, index) => {
          const sentAt = openedAt.get(key)?.[index];
          return sentAt === undefined ? [] : [[(sentAt - started) / 1000, Math.max(0, at - sentAt)] as [number, number]];
        }),
      );
    const createdAt = new Map<string, number[]>();
    for (const row of incidents.rows) createdAt.set(row.dedup_key, [...(createdAt.get(row.dedup_key) ?? []), row.created_at.getTime()]);
    const incidentPoints = pointsByKey(createdAt);
    const incidentLatencies = incidentPoints.map(([, ms]) => ms);
    const firstPost = new Map<string, number[]>();
    for (const post of slack.posts) {
      if (post.threadTs) continue;
      const match = /crashed on (bench-app-\d+)|Build failed on (bench-app-\d+)|Formation worker scaled \d+ -> \d+ on (bench-app-\d+)/.exec(post.text);
      const dyno = /Dyno (web\.\d+) crashed/.exec(post.text);
      const key = match?.[1] && dyno ? `heroku:${match[1]}:dyno:${dyno[1]}` : match?.[2] ? `heroku:${match[2]}:build` : match?.[3] ? `heroku:${match[3]}:formation:worker` : null;
      // One channel per app: each incident has one message, its first post.
      if (key) firstPost.set(key, [...(firstPost.get(key) ?? []), post.at]);
    }
    const slackPoints = pointsByKey(firstPost);
    const slackLatencies = slackPoints.map(([, ms]) => ms);
    // Deploy pulses wait behind incident messages under load: how long, is printed too.
    const firstPulsePost = new Map<string, number>();
    for (const post of slack.posts) if (!post.threadTs && post.text.startsWith('[Heroku][') && !firstPulsePost.has(post.text)) firstPulsePost.set(post.text, post.at);
    const pulseLatencies = [...pulseAcceptedAt].flatMap(([text, sentAt]) => {
      const at = firstPulsePost.get(text);
      return at === undefined ? [] : [Math.max(0, at - sentAt)];
    });

    // Exact correctness.
    const problems: string[] = [];
    const byKey = new Map(incidents.rows.map((row) => [row.dedup_key, row]));
    let buildIncidents = 0;
    for (const [key, want] of expected.incidents) {
      if (key.includes('#')) {
        buildIncidents += 1;
        continue;
      }
      const got = byKey.get(key);
      if (!got || got.alert_count !== want.alerts || got.status !== want.status) problems.push(`${key}: expected ${want.alerts} alerts ${want.status}, got ${got ? `${got.alert_count} ${got.status}` : 'none'}`);
    }
    const buildRows = incidents.rows.filter((row) => row.dedup_key.endsWith(':build'));
    if (buildRows.length !== buildIncidents || buildRows.some((row) => row.status !== 'resolved' || row.alert_count !== 1)) problems.push(`build incidents: expected ${buildIncidents} resolved with 1 alert, got ${buildRows.length}`);
    if (incidents.rows.length !== expected.incidents.size) problems.push(`incidents: expected ${expected.incidents.size}, got ${incidents.rows.length}`);
    const pulses = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pulses')).rows[0]!.n;
    if (pulses !== expected.pulses) problems.push(`pulses: expected ${expected.pulses}, got ${pulses}`);
    const roots = slack.posts.filter((p) => !p.threadTs).length;
    if (roots !== expected.slackRoots) problems.push(`Slack messages: expected ${expected.slackRoots}, got ${roots}`);
    // Each incident's thread holds every alert, acknowledgement and resolution once, in order.
    const replies = new Map<string, string[]>();
    // Escalation mentions are posts of their own, checked against the timeline's `escalated` entries.
    const mentions = slack.posts.filter((post) => post.threadTs && post.text.startsWith('Escalated to level '));
    const escalated = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM timeline_entries WHERE kind = 'escalated'")).rows[0]!.n;
    if (mentions.length !== escalated) problems.push(`escalation: ${mentions.length} mentions posted, ${escalated} on timelines`);
    for (const post of slack.posts) if (post.threadTs && !post.text.startsWith('Escalated to level ')) replies.set(post.threadTs, [...(replies.get(post.threadTs) ?? []), ...post.text.split('\n')]);
    const threads = await db.query<{ ts: string; lines: string[] }>(
      `SELECT m.ts, array_agg(t.message ORDER BY t.seq) AS lines FROM slack_messages m
         JOIN timeline_entries t ON t.incident_id = m.incident_id AND t.kind = ANY($1::text[])
        WHERE m.ts IS NOT NULL GROUP BY m.ts`,
      [['alert', 'acknowledged', 'resolved', 'action_run']],
    );
    const unescape = (text: string) => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    const wrongThreads = threads.rows.filter((thread) => JSON.stringify((replies.get(thread.ts) ?? []).map(unescape)) !== JSON.stringify(thread.lines));
    if (wrongThreads.length > 0) problems.push(`${wrongThreads.length} of ${threads.rows.length} incident threads differ from their timelines`);
    const failed = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE status <> 'processed'")).rows[0]!.n;
    if (failed !== 0) problems.push(`${failed} events not processed`);
    if (refused !== 0) problems.push(`${refused} deliveries refused`);

    const apiRss = peakRssMb(api.pid);
    const workerRss = peakRssMb(worker.pid);
    const sustained = acceptedMeasured / measuredSeconds;
    const fmt = (values: number[]) => `p50 ${percentile(values, 50).toFixed(0)} ms  p95 ${percentile(values, 95).toFixed(0)} ms  p99 ${percentile(values, 99).toFixed(0)} ms  (n=${values.length})`;
    console.log(`sustained: ${sustained.toFixed(0)} events/s accepted (${acceptedMeasured} in the measured ${measuredSeconds.toFixed(1)} s, ${accepted} with the warm-up); backlog drained ${drainSeconds.toFixed(1)} s after the last delivery`);
    console.log(`webhook -> incident: ${fmt(incidentLatencies)}   (target p99 < ${TARGETS.incidentP99Ms} ms)`);
    console.log(`webhook -> Slack:    ${fmt(slackLatencies)}   (target p99 < ${TARGETS.slackP99Ms} ms)`);
    console.log(`webhook -> pulse in Slack: ${fmt(pulseLatencies)}   (target p99 < ${TARGETS.pulseP99Ms} ms ${drainSeconds <= KEPT_UP_DRAIN_S ? 'while keeping up' : 'applies only while keeping up: not applied'})`);
    const backlogOf = (pick: (sample: { waiting: number; delayed: number }) => number) => {
      const values = slackBacklog.map(pick);
      return values.length === 0 ? 'n/a' : `mean ${Math.round(values.reduce((a, b) => a + b, 0) / values.length)}, max ${Math.max(...values)}`;
    };
    console.log(`Slack queue while sending: waiting ${backlogOf((s) => s.waiting)}; delayed (busy channel) ${backlogOf((s) => s.delayed)}`);
    const cpuTotal = [...cpuUsed.values()].reduce((a, b) => a + b, 0);
    const cpuParts = [...cpuUsed].sort((a, b) => b[1] - a[1]).map(([label, seconds]) => `${label} ${((seconds * 1e6) / accepted).toFixed(0)}`);
    console.log(`CPU per accepted event, until drained: ${((cpuTotal * 1e6) / accepted).toFixed(0)} us (${cpuParts.join(', ')}); machine busy ${((100 * cpuTotal) / ((sendSeconds + drainSeconds) * availableParallelism())).toFixed(0)}% of ${availableParallelism()} cores`);
    const metric = (name: string) => [...workerMetrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
    const eventJobs = metric('pulsebridge_event_job_events_count');
    const inline = (outcome: string, kind = '[^"]+') =>
      [...workerMetrics.matchAll(new RegExp(`^pulsebridge_slack_inline_total\\{(?=[^}]*kind="${kind}")[^}]*outcome="${outcome}"[^}]*\\} ([0-9.e+-]+)$`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
    const inlineTotal = ['sent', 'queued', 'no_slot', 'behind'].reduce((sum, outcome) => sum + inline(outcome), 0);
    const pagesTotal = ['sent', 'queued', 'no_slot', 'behind'].reduce((sum, outcome) => sum + inline(outcome, 'page'), 0);
    console.log(
      `event jobs: ${eventJobs} for ${metric('pulsebridge_event_job_events_sum')} events (${(metric('pulsebridge_event_job_events_sum') / eventJobs).toFixed(2)} per job); Slack deliveries after an event: ${((100 * inline('sent')) / inlineTotal).toFixed(0)}% sent at once, the rest queued (${inline('no_slot')} no slot, ${inline('behind')} behind, ${inline('queued')} failed or busy channel); pages ${((100 * inline('sent', 'page')) / pagesTotal).toFixed(0)}% at once`,
    );
    console.log(`peak RSS: api ${apiRss.toFixed(0)} MB, worker ${workerRss.toFixed(0)} MB (target worker < ${TARGETS.workerRssMb} MB)`);
    console.log(`Slack calls: ${[...slack.calls].sort(([a], [b]) => a.localeCompare(b)).map(([method, n]) => `${method} ${n}`).join(', ')}`);
    if (args.escalation) console.log(`escalation: ${mentions.length} mentions posted for ${escalated} escalation entries`);
    console.log(`correctness: ${incidents.rows.length} incidents, ${pulses} pulses, ${roots} Slack messages, ${slack.posts.length - roots} thread replies (${threads.rows.length} threads checked): ${problems.length === 0 ? 'exact' : problems.slice(0, 10).join('; ')}`);

    mkdirSync(path.join(repo, 'bench/results'), { recursive: true });
    const plot = path.join(repo, 'bench/results/pipeline-latency.png');
    const plotted = await writeLatencyPlot(
      plot,
      `pulsebridge pipeline at ${RATE} events/s, ${APPS} apps: latency of each incident's first delivery`,
      [
        { label: 'webhook -> incident committed', color: '#3b5bdb', points: incidentPoints },
        { label: 'webhook -> first Slack post', color: '#e8590c', points: slackPoints },
      ],
      [
        { label: `incident p99 target ${TARGETS.incidentP99Ms} ms`, ms: TARGETS.incidentP99Ms },
        { label: `Slack p99 target ${TARGETS.slackP99Ms} ms`, ms: TARGETS.slackP99Ms },
      ],
    );
    if (plotted) console.log(`plot: ${path.relative(repo, plot)}`);

    const misses: string[] = [...problems];
    if (sustained < RATE * 0.98) misses.push(`sustained ${sustained.toFixed(0)}/s below ${RATE}/s`);
    if (percentile(incidentLatencies, 99) >= TARGETS.incidentP99Ms) misses.push('webhook -> incident p99');
    if (percentile(slackLatencies, 99) >= TARGETS.slackP99Ms) misses.push('webhook -> Slack p99');
    if (workerRss >= TARGETS.workerRssMb) misses.push('worker RSS');
    if (drainSeconds <= KEPT_UP_DRAIN_S && percentile(pulseLatencies, 99) >= TARGETS.pulseP99Ms) misses.push('webhook -> pulse in Slack p99');
    printVerdict(misses, 'all pipeline targets met');
  } finally {
    api.kill('SIGTERM');
    worker.kill('SIGTERM');
    await db.end().catch(() => undefined);
    await slack.close();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await dropBenchData(args.pg, args.redis, runId, { keepDatabase: args.keep });
    if (args.keep) console.log(`kept database ${databaseUrl}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
