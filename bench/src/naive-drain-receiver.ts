// bench/drain's baseline: the log drain receiver a user would write in an afternoon. Express
// with a text body, split into lines, one regex per line, one Redis INCR per error line (router
// error code, 5xx status, runtime error code) in a per-minute key, then 204. It keeps no request
// totals (no 5xx share), checks no token, and reads no frame headers or Logplex-Frame-Id.
import express from 'express';
import { Redis } from 'ioredis';

const port = Number(process.env.PORT ?? 3100);
const prefix = process.env.NAIVE_PREFIX ?? 'naive-drain';
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const ERROR = /at=error code=(H\d\d)|status=(5\d\d)|Error (R\d\d) /;
let requests = 0;
let lines = 0;

const app = express();
app.post('/drains/heroku/:integration/:app/:token', express.text({ type: 'application/logplex-1', limit: '1mb' }), async (req, res) => {
  const minute = Math.floor(Date.now() / 60_000);
  const increments: Promise<number>[] = [];
  for (const line of (req.body as string).split('\n')) {
    if (line === '') continue;
    lines += 1;
    const match = ERROR.exec(line);
    if (match) increments.push(redis.incr(`${prefix}:${req.params.app}:${match[1] ?? (match[2] ? '5xx' : match[3])}:${minute}`));
  }
  await Promise.all(increments);
  requests += 1;
  res.sendStatus(204);
});
app.get('/stats', (_req, res) => {
  res.json({ requests, lines });
});
const server = app.listen(port, '127.0.0.1', () => process.send?.('ready'));
server.keepAliveTimeout = 65_000;
