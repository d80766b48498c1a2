// bench/floor: what the parts every event needs cost at the least on this machine, each on its own.
//
//   npm run bench:floor [-- --ops 5000]
//
// Measures, with nothing of pulsebridge's own logic around them: a signed webhook over node:http,
// a chat.postMessage through @slack/web-api (pulsebridge's transport) to a receiver on loopback,
// a BullMQ job added and run by a worker that does nothing, and a durable one-row write to
// PostgreSQL. Prints CPU per operation of every process involved (client and server of a pair
// run in this process), then what an event of bench/pipeline's mix costs at the least, and how
// many such events two cores could take with nothing else running.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createSlackClient } from '@pulsebridge/core';
import { BENCH_SERVER_OPTIONS, createBenchDatabase, dropBenchData } from './bench-database.js';
import { cpuBetween, cpuSnapshot } from './process-cpu.js';

const { values: args } = parseArgs({
  options: {
    ops: { type: 'string', default: '5000' },
    ...BENCH_SERVER_OPTIONS,
    // Per event of bench/pipeline's mix (3,000 apps): Slack calls (posts, updates, replies), BullMQ
    // jobs (the event's and its Slack jobs) and durable writes (the stored event, its apply, each
    // Slack message's intent and its result), as counted at 200-250 events/s.
    'slack-calls': { type: 'string', default: '1.73' },
    jobs: { type: 'string', default: '2.3' },
    writes: { type: 'string', default: '4.6' },
  },
});
const OPS = Number(args.ops);
const CONCURRENCY = 10;

/** Runs `op` OPS times, CONCURRENCY at once, after a warm-up; returns CPU microseconds per op per process group. */
async function measure(op: (i: number) => Promise<unknown>): Promise<Map<string, number>> {
  for (let i = 0; i < 300; i += 1) await op(i);
  const before = cpuSnapshot({ bench: process.pid });
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < OPS) await op((next += 1));
  }));
  const used = cpuBetween(before, cpuSnapshot({ bench: process.pid }));
  return new Map([...used].map(([label, seconds]) => [label, (seconds * 1e6) / OPS]));
}

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};
const readBody = (req: IncomingMessage) => new Promise<Buffer>((resolve) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => resolve(Buffer.concat(chunks)));
});

async function webhook() {
  const secret = randomBytes(32).toString('hex');
  const body = JSON.stringify({ id: 'e', resource: 'dyno', action: 'update', data: { app: { name: 'bench-app-1' }, name: 'web.1', state: 'crashed', command: 'x'.repeat(1200) }, created_at: new Date().toISOString() });
  const signature = createHmac('sha256', secret).update(body).digest('base64');
  const server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const ok = timingSafeEqual(createHmac('sha256', secret).update(raw).digest(), Buffer.from(String(req.headers['heroku-webhook-hmac-sha256']), 'base64'));
    JSON.parse(raw.toString('utf8'));
    res.writeHead(ok ? 202 : 401, { 'content-type': 'application/json' }).end('{"status":"accepted","eventId":"e"}');
  });
  const port = await listen(server);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const headers = { 'content-type': 'application/json', 'heroku-webhook-hmac-sha256': signature, 'content-length': Buffer.byteLength(body) };
  const cost = await measure(() => new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/webhooks/heroku/x', agent, headers }, (res) => res.resume().on('end', resolve));
    req.on('error', reject).end(body);
  }));
  agent.destroy();
  server.close();
  return cost;
}

async function slackCall() {
  const server = createServer(async (req, res) => {
    new URLSearchParams((await readBody(req)).toString());
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"channel":"C0123456","ts":"1764000000.000100"}');
  });
  const port = await listen(server);
  const slack = createSlackClient({ botToken: 'xoxb-floor', apiUrl: `http://127.0.0.1:${port}/api/` })!;
  const blocks = [
    { type: 'section', text: { type: 'mrkdwn', text: '*[Heroku][Dyno] bench-app-1: web.1 crashed*' } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: 'Triggered · critical · bench-app-1' }] },
  ];
  const cost = await measure(() => slack.chat.postMessage({ channel: '#bench-app-1', text: 'web.1 crashed', blocks, metadata: { event_type: 'pulsebridge_message', event_payload: { token: 't' } } }));
  server.close();
  return cost;
}

async function bullmqJob(prefix: string) {
  const connection = new Redis(args.redis, { maxRetriesPerRequest: null });
  const queue = new Queue('floor', { connection, prefix });
  const options = { attempts: 14, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: { age: 3_600, count: 10_000 } };
  let done = 0;
  const waiters = new Map<number, () => void>();
  const worker = new Worker('floor', async () => {
    done += 1;
    for (const [count, wake] of waiters) if (done >= count) wake();
  }, { connection, prefix, concurrency: CONCURRENCY });
  let added = 0;
  const cost = await measure(async () => {
    added += 1;
    const target = added;
    await queue.add('job', { id: target }, { ...options, jobId: `job-${target}` });
    if (done < target) await new Promise<void>((resolve) => waiters.set(target, () => (waiters.delete(target), resolve())));
  });
  await worker.close();
  await queue.close();
  connection.disconnect();
  return cost;
}

async function durableWrite(url: string) {
  const pool = new pg.Pool({ connectionString: url, max: CONCURRENCY });
  // pool.end() resolves before its connections are closed; dropping the database right after
  // may terminate one of them, which is expected then.
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE floor_writes (id bigserial PRIMARY KEY, body text NOT NULL)');
  const cost = await measure((i) => pool.query({ name: 'floor-write', text: 'INSERT INTO floor_writes (body) VALUES ($1)', values: [`row ${i}`] }));
  await pool.end();
  return cost;
}

async function main() {
  const runId = `pbfloor_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const url = await createBenchDatabase(args.pg, runId);
  try {
    const parts = [
      { name: 'signed webhook over node:http (client and server)', per: 1, cost: await webhook() },
      { name: 'chat.postMessage via @slack/web-api (client and receiver)', per: Number(args['slack-calls']), cost: await slackCall() },
      { name: 'BullMQ job added and run (no work)', per: Number(args.jobs), cost: await bullmqJob(runId) },
      { name: 'durable one-row write (autocommit)', per: Number(args.writes), cost: await durableWrite(url) },
    ];
    console.log(`bench/floor: ${OPS} operations each, ${CONCURRENCY} at once; CPU per operation by process`);
    let perEvent = 0;
    for (const part of parts) {
      const total = [...part.cost.values()].reduce((sum, us) => sum + us, 0);
      const split = [...part.cost].filter(([, us]) => us >= 1).map(([label, us]) => `${label} ${us.toFixed(0)}`).join(', ');
      console.log(`  ${part.name}: ${total.toFixed(0)} us (${split}); x ${part.per} per event`);
      perEvent += total * part.per;
    }
    console.log(`floor per event of the pipeline's mix: ${(perEvent / 1000).toFixed(2)} ms of CPU; two cores doing only this take ${Math.floor(2e6 / perEvent)} events/s`);
  } finally {
    await dropBenchData(args.pg, args.redis, runId);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
