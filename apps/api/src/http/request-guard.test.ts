import { createServer, request, type RequestListener, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@pulsebridge/core';
import { decodeComponent, guardRequests, requestTargetProblem } from './request-guard.js';

const logger = createLogger({ level: 'silent', service: 'test' });
let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function serve(listener: RequestListener) {
  server = createServer(guardRequests(listener, logger));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return (target: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: target, method: 'GET' }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
}

describe('decoding URL components', () => {
  it('decodes well-formed components and refuses malformed ones and NUL bytes', () => {
    expect(decodeComponent('a%20b')).toBe('a b');
    expect(decodeComponent('%25')).toBe('%');
    expect(decodeComponent('caf%C3%A9')).toBe('café');
    for (const bad of ['%E0%A4%A', '%', '%zz', '%FF', '%C0%AE', '%00', 'a%00b']) expect(decodeComponent(bad), bad).toBeNull();
  });

  it('judges a whole request target, path and query', () => {
    expect(requestTargetProblem('/api/v1/incidents?appName=web%20app&cursor=abc')).toBeNull();
    expect(requestTargetProblem('/a%25zz')).toBeNull();
    expect(requestTargetProblem('/webhooks/heroku/%E0%A4%A')).not.toBeNull();
    expect(requestTargetProblem('/incidents?app=%00')).not.toBeNull();
    expect(requestTargetProblem('/incidents?app=100%')).not.toBeNull();
  });
});

describe('the guarded request listener', () => {
  it('answers a malformed target 400 in the error shape without calling the listener', async () => {
    let called = 0;
    const get = await serve((_req, res) => {
      called += 1;
      res.end('ok');
    });
    const refused = await get('/x?y=%E0%A4%A');
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'bad_request', message: expect.any(String), requestId: expect.any(String) } });
    expect(called).toBe(0);
    expect((await get('/x')).status).toBe(200);
  });

  it('keeps the process serving when the listener throws', async () => {
    const get = await serve((req, res) => {
      if (req.url === '/throw') throw new URIError('URI malformed');
      res.end('ok');
    });
    const failed = await get('/throw');
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body)).toMatchObject({ error: { code: 'internal' } });
    expect(await get('/fine')).toEqual({ status: 200, body: 'ok' });
  });
});
