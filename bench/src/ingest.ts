// bench/ingest: how fast pulsebridge accepts signed Heroku deliveries, against the naive
// receiver on the same machine in the same run. Loopback only, bounded in time.
//
//   npm run bench:ingest [-- --duration 10 --connections 50 --rate 1000]
//
// Prints accepted/s and p50/p99 latency at full load for both, the ratio, and p99 at a
// fixed rate; checks that every 202 has its row and its job; exits 1 when a target is missed.
import { fork, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { BENCH_SERVER_OPTIONS, createBenchDatabase, dropBenchData } from './bench-database.js';
import { printVerdict } from './verdict.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    rate: { type: 'string', default: '1000' },
    ...BENCH_SERVER_OPTIONS,
    keep: { type: 'boolean', default: false },
  },
});
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const RATE = Number(args.rate);
const TARGET_RATIO = 0.7;
const TARGET_P99_MS = 25;

const here = path.dirname(new URL(import.meta.url).pathname);
const repo = path.resolve(here, '../..');
const runId = `pbbench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const databaseUrl = `${args.pg}/${runId}`;
const ADMIN_TOKEN = randomBytes(24).toString('hex');

/** A realistic ~2 KB Heroku build delivery with a fresh event id. */
function delivery(app: string): string {
  const id = randomUUID();
  return JSON.stringify({
    id,
    data: {
      id: randomUUID(),
      app: { id: randomUUID(), name: app },
      slug: { id: randomUUID(), commit: randomBytes(20).toString('hex') },
      user: { id: randomUUID(), email: 'deployer@example.com' },
      stack: 'heroku-24',
      status: 'succeeded',
      release: { id: randomUUID(), version: 42 },
      metadata: {},
      buildpacks: [{ url: 'https://buildpack-registry.s3.amazonaws.com/buildpacks/heroku/nodejs.tgz', name: 'heroku/nodejs' }],
      created_at: '2026-11-24T10:00:00Z',
      updated_at: '2026-11-24T10:01:00Z',
      source_blob: { url: `https://codeload.github.com/acme/${app}/legacy.tar.gz/${randomBytes(20).toString('hex')}`, version: randomBytes(20).toString('hex'), checksum: null },
      output_stream_url: `https://build-output.heroku.com/streams/43/${randomUUID()}/logs/${randomUUID()}.log?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=86400&X-Amz-Signature=${randomBytes(32).toString('hex')}`,
    },
    actor: { id: randomUUID(), email: 'deployer@example.com' },
    action: 'update',
    version: 'application/vnd.heroku+json; version=3',
    resource: 'build',
    sequence: null,
    created_at: '2026-11-24T10:01:00+00:00',
    updated_at: '2026-11-24T10:01:00+00:00',
    published_at: '2026-11-24T10:01:01Z',
    previous_data: {},
    webhook_metadata: {
      attempt: { id: randomUUID() },
      delivery: { id: randomUUID() },
      event: { id, include: 'api:build' },
      webhook: { id: randomUUID() },
    },
    padding: 'x'.repeat(200),
  });
}

function startProcess(script: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = fork(script, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    child.once('message', () => resolve(child));
  });
}

async function waitForHttp(url: string, child: ChildProcess): Promise<ChildProcess> {
  for (let i = 0; i < 200; i += 1) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer`);
}

interface Run {
  requestsPerSecond: number;
  accepted: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
}

/**
 * Drives one server. Bodies are built and signed before the run starts (each with its own
 * event id), so the load generator spends its share of the 2 cores sending, not hashing.
 */
async function load(url: string, secret: string, options: { duration: number; connections: number; rate?: number; expectedRate: number }): Promise<Run> {
  const count = Math.ceil(options.expectedRate * options.duration * 1.5) + options.connections;
  const bodies = Array.from({ length: count }, () => {
    const body = delivery('bench-app');
    return { body, signature: createHmac('sha256', secret).update(body).digest('base64') };
  });
  let next = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    duration: options.duration,
    connections: options.connections,
    ...(options.rate && { overallRate: options.rate }),
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => {
          // Past the prepared bodies (a much faster machine), build more on the fly.
          const prepared = bodies[next++];
          const body = prepared?.body ?? delivery('bench-app');
          const signature = prepared?.signature ?? createHmac('sha256', secret).update(body).digest('base64');
          return { ...request, body, headers: { ...request.headers, 'heroku-webhook-hmac-sha256': signature } };
        },
      },
    ],
  });
  return {
    requestsPerSecond: result.requests.average,
    accepted: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}

const fmt = (run: Run) =>
  `${run.requestsPerSecond.toFixed(0).padStart(6)} accepted/s   p50 ${run.p50.toFixed(1).padStart(5)} ms   p99 ${run.p99.toFixed(1).padStart(5)} ms   (${run.accepted} accepted, ${run.non2xx} non-2xx, ${run.errors} errors)`;

async function main() {
  await createBenchDatabase(args.pg, runId);
  const children: ChildProcess[] = [];
  const redis = new Redis(args.redis);
  try {
    // The naive receiver.
    const naiveSecret = randomBytes(32).toString('hex');
    const naive = await startProcess(path.join(here, 'naive-receiver.js'), { PORT: '3181', REDIS_URL: args.redis, NAIVE_SECRET: naiveSecret, QUEUE_PREFIX: `${runId}-naive` });
    children.push(naive);
    const naiveUrl = 'http://127.0.0.1:3181/webhooks/heroku/x';

    // pulsebridge's API process, as `npm run start:api` runs it (default log level).
    const api = fork(path.join(repo, 'apps/api/dist/main.js'), [], {
      env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: args.redis, PORT: '3180', ADMIN_TOKEN, SECRET_KEY: randomBytes(32).toString('hex'), QUEUE_PREFIX: `${runId}-pb` },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    children.push(api);
    await waitForHttp('http://127.0.0.1:3180/healthz', api);
    const created = await fetch('http://127.0.0.1:3180/api/v1/integrations/heroku', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', monitoredApps: ['bench-app'] }),
    });
    const integration = (await created.json()) as { id: string; secret: string };
    const pbUrl = `http://127.0.0.1:3180/webhooks/heroku/${integration.id}`;

    console.log(`bench/ingest: ~${Buffer.byteLength(delivery('bench-app'))} byte signed deliveries, ${CONNECTIONS} connections, ${DURATION} s per run, loopback`);
    // Warm both up (JIT, connection pools), then measure each.
    const saturated = { duration: DURATION, connections: CONNECTIONS, expectedRate: 8_000 };
    await load(naiveUrl, naiveSecret, { ...saturated, duration: 2 });
    await load(pbUrl, integration.secret, { ...saturated, duration: 2 });
    // Latency at a fixed rate first: the saturation runs leave checkpoints and autovacuum
    // work behind that would land in whichever run comes next.
    const fixedRun = await load(pbUrl, integration.secret, { duration: DURATION, connections: CONNECTIONS, rate: RATE, expectedRate: RATE });
    const naiveRun = await load(naiveUrl, naiveSecret, saturated);
    const pbRun = await load(pbUrl, integration.secret, saturated);
    const ratio = pbRun.requestsPerSecond / naiveRun.requestsPerSecond;

    // Every 202 must have its row and its job (nothing consumes the queue during the bench).
    // autocannon stops counting at the end of its window while the server still answers the
    // requests in flight, so wait until the server's own tally of 202s stops moving.
    const acceptedSoFar = async () => {
      const metrics = await (await fetch('http://127.0.0.1:3180/metrics')).text();
      return Number(/pulsebridge_ingress_requests_total\{endpoint="heroku_webhook",outcome="accepted"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? NaN);
    };
    let acceptedTotal = await acceptedSoFar();
    for (let previous = -1; previous !== acceptedTotal; ) {
      previous = acceptedTotal;
      await new Promise((resolve) => setTimeout(resolve, 500));
      acceptedTotal = await acceptedSoFar();
    }
    const check = new pg.Client({ connectionString: databaseUrl });
    await check.connect();
    const storedIds = (await check.query<{ id: string }>('SELECT id FROM events')).rows.map((row) => row.id);
    const rows = storedIds.length;
    await check.end();
    // Events stored together share a job (up to EVENT_JOB_MAX_EVENTS): count the events the jobs name.
    const queue = new Queue('events', { connection: redis, prefix: `${runId}-pb` });
    const queuedIds = new Set<string>();
    for (const state of ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'] as const) {
      for (let start = 0; ; start += 1000) {
        const batch = await queue.getJobs([state], start, start + 999);
        if (batch.length === 0) break;
        for (const job of batch) for (const id of (job.data.eventRowIds as string[] | undefined) ?? [job.data.eventRowId as string]) queuedIds.add(id);
      }
    }
    await queue.close();
    const jobs = storedIds.filter((id) => queuedIds.has(id)).length;

    console.log(`naive receiver (express + HMAC + queue.add, stores nothing): ${fmt(naiveRun)}`);
    console.log(`pulsebridge    (verify, store in PostgreSQL, enqueue, 202):  ${fmt(pbRun)}`);
    console.log(`ratio pulsebridge / naive: ${ratio.toFixed(2)}x (target >= ${TARGET_RATIO}x, goal 1.0x)`);
    console.log(`pulsebridge at a fixed ${RATE} req/s: ${fmt(fixedRun)} (target p99 < ${TARGET_P99_MS} ms)`);
    console.log(`durability: ${acceptedTotal} deliveries answered 202, ${rows} rows stored, ${jobs} of them named by a queued job`);

    const failures: string[] = [];
    if (ratio < TARGET_RATIO) failures.push(`throughput ratio ${ratio.toFixed(2)} < ${TARGET_RATIO}`);
    if (fixedRun.p99 >= TARGET_P99_MS) failures.push(`p99 at ${RATE} req/s is ${fixedRun.p99} ms >= ${TARGET_P99_MS} ms`);
    if (fixedRun.requestsPerSecond < RATE * 0.95) failures.push(`only ${fixedRun.requestsPerSecond.toFixed(0)} req/s of the fixed ${RATE}`);
    if (pbRun.non2xx + pbRun.errors + fixedRun.non2xx + fixedRun.errors > 0) failures.push('pulsebridge answered errors under load');
    if (!(acceptedTotal === rows && rows === jobs)) failures.push(`202s (${acceptedTotal}), rows (${rows}) and rows in jobs (${jobs}) differ`);

    const results = { at: new Date().toISOString(), durationSeconds: DURATION, connections: CONNECTIONS, naive: naiveRun, pulsebridge: pbRun, ratio, fixedRate: { rate: RATE, ...fixedRun }, durability: { acceptedTotal, rows, jobs }, failures };
    mkdirSync(path.join(repo, 'bench/results'), { recursive: true });
    writeFileSync(path.join(repo, 'bench/results/ingest.json'), `${JSON.stringify(results, null, 2)}\n`);
    printVerdict(failures, 'all ingest targets met');
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await redis.quit();
    if (args.keep) {
      console.log(`kept database ${runId} and Redis prefix ${runId}-pb for inspection`);
    } else {
      await dropBenchData(args.pg, args.redis, runId);
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
