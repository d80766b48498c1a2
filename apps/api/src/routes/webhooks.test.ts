import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createMetrics, type Ingestor } from '@pulsebridge/core';
import { createWebhookIngress } from './webhooks.js';

// The ingress on its own, without the guard in front of it in the server: it must not rely on one.
const seen: string[] = [];
const ingestor: Ingestor = {
  ingestHerokuWebhook: async ({ integrationId }) => (seen.push(integrationId), { kind: 'unknown_integration' }),
  ingestAddonNotification: async ({ resourceId }) => (seen.push(resourceId), { kind: 'unauthorized' }),
  drain: async () => undefined,
};
const ingress = createWebhookIngress({ ingestor, metrics: createMetrics({ process: 'api' }), logger: createLogger({ level: 'silent', service: 'test' }) });
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (!ingress.handle(req, res)) res.writeHead(418).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = (target: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: target, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end('{}');
  });

describe('webhook ingress ids', () => {
  it('answers 400 for an id that does not decode or holds a NUL byte, without ingesting it', async () => {
    for (const id of ['%E0%A4%A', '%', '%FF', '%00', 'a%00b']) {
      for (const target of [`/webhooks/heroku/${id}`, `/heroku/resources/${id}/events`]) {
        const answer = await post(target);
        expect(answer.status, target).toBe(400);
        expect(JSON.parse(answer.body), target).toMatchObject({ error: { code: 'bad_request', message: expect.any(String), requestId: expect.any(String) } });
      }
    }
    expect(seen).toEqual([]);
  });

  it('passes decoded ids on', async () => {
    expect((await post('/webhooks/heroku/abc%2Ddef')).status).toBe(404);
    expect((await post('/heroku/resources/resource%20one/events')).status).toBe(401);
    expect(seen).toEqual(['abc-def', 'resource one']);
  });
});
