import { createServer, request, type RequestListener, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, loggableUrl } from '@pulsebridge/core';
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

describe('logging request targets', () => {
  it('never writes the token of a drain URL or a query string to the log, however the target is spelt', async () => {
    let output = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        output += chunk;
        done();
      },
    });
    const capturing = createLogger({ level: 'info', service: 'test', destination: sink });
    server = createServer(guardRequests(() => {
      throw new Error('boom');
    }, capturing));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const token = 'Tok3nSecretValue_0123456789abcdef';
    for (const target of [`/drains/heroku/id/app/${token}?%zz`, `/drains/heroku/id/app/${token}`, `/Drains/Heroku/id/app/${token}/x`, `//drains//heroku/id/app/${token}`, `/incidents?token=${token}`]) {
      await new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port, path: target, method: 'POST' }, (res) => res.resume().on('end', resolve));
        req.on('error', () => resolve());
        req.end();
      });
    }
    expect(output).toContain('/drains/heroku/id/app/[token]');
    expect(output).not.toContain(token);
    expect(loggableUrl(`/drains/heroku/i/a/${token}`)).toBe('/drains/heroku/i/a/[token]');
  });
});

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
