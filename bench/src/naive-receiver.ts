// The baseline: the receiver a user would write in an afternoon. Express, an HMAC check,
// one `queue.add` per request, nothing stored: fast, but a Redis hiccup loses events.
import { createHmac, timingSafeEqual } from 'node:crypto';
import express from 'express';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const secret = process.env.NAIVE_SECRET ?? '';
const port = Number(process.env.PORT ?? 3100);
const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const queue = new Queue('events', { connection, prefix: process.env.QUEUE_PREFIX ?? 'naive' });

const app = express();
app.post('/webhooks/heroku/:id', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
  const given = Buffer.from(req.header('heroku-webhook-hmac-sha256') ?? '', 'base64');
  const expected = createHmac('sha256', secret).update(req.body as Buffer).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    res.status(401).end();
    return;
  }
  const event = JSON.parse((req.body as Buffer).toString('utf8')) as { id: string };
  await queue.add('event.process', { eventId: event.id }, { jobId: `event-${event.id}` });
  res.status(202).json({ status: 'accepted', eventId: event.id });
});
app.listen(port, '127.0.0.1', () => process.send?.('ready'));
