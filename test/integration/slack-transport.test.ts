import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifySlackError, createSlackClient, slackHttpTransport } from '@pulsebridge/core';

/** Records what arrives and answers as the test says. */
let server: Server;
let baseUrl: string;
const received: { url: string; headers: IncomingMessage['headers']; body: string }[] = [];
let answer: (url: string) => { status: number; headers?: Record<string, string>; body: string } | 'hang' = () => ({ status: 200, body: '{"ok":true}' });

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body });
      const reply = answer(req.url ?? '');
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('the Slack HTTP transport', () => {
  it('sends the Web API request as the client built it and returns the answer with its headers', async () => {
    answer = () => ({ status: 200, headers: { 'X-OAuth-Scopes': 'chat:write' }, body: '{"ok":true,"channel":"C1","ts":"1.2"}' });
    const client = createSlackClient({ botToken: 'xoxb-transport', apiUrl: `${baseUrl}/api/` })!;
    const result = await client.chat.postMessage({ channel: '#ops', text: 'Dyno crashed & restarted', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'é <b>' } }] });
    expect(result).toMatchObject({ ok: true, channel: 'C1', ts: '1.2' });
    expect(result.response_metadata?.scopes).toEqual(['chat:write']);
    const request = received.at(-1)!;
    expect(request.url).toBe('/api/chat.postMessage');
    expect(request.headers.authorization).toBe('Bearer xoxb-transport');
    expect(Number(request.headers['content-length'])).toBe(Buffer.byteLength(request.body));
    const params = new URLSearchParams(request.body);
    expect(params.get('text')).toBe('Dyno crashed & restarted');
    expect(JSON.parse(params.get('blocks')!)).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: 'é <b>' } }]);
  });

  it('a 429 becomes a rate limit with its Retry-After, a 500 a transient error', async () => {
    const client = createSlackClient({ botToken: 'xoxb-transport', apiUrl: `${baseUrl}/api/` })!;
    answer = () => ({ status: 429, headers: { 'Retry-After': '7' }, body: '' });
    const limited = await client.chat.postMessage({ channel: '#ops', text: 'x' }).catch((error: unknown) => error);
    expect(classifySlackError(limited)).toEqual({ kind: 'rate_limited', retryAfterMs: 7_000 });
    answer = () => ({ status: 500, body: 'oops' });
    const failed = await client.chat.postMessage({ channel: '#ops', text: 'x' }).catch((error: unknown) => error);
    expect(classifySlackError(failed)).toEqual({ kind: 'transient', error: 'HTTP 500' });
  });

  it('gives up on an answer that never comes after the client timeout', async () => {
    answer = () => 'hang';
    const client = createSlackClient({ botToken: 'xoxb-transport', apiUrl: `${baseUrl}/api/`, timeoutMs: 200 })!;
    const started = Date.now();
    const error = await client.chat.postMessage({ channel: '#ops', text: 'x' }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(classifySlackError(error).kind).toBe('transient');
  });

  it('leaves form bodies (file uploads) to the built-in fetch', async () => {
    answer = () => ({ status: 200, body: 'OK - 12' });
    const form = new FormData();
    form.append('file', new Blob(['hello output']), 'output.txt');
    const response = await slackHttpTransport(`${baseUrl}/upload/F1`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('OK - 12');
    const request = received.at(-1)!;
    expect(request.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(request.body).toContain('hello output');
  });
});
