import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { FetchFunction } from '@slack/web-api';

type FetchResponse = Awaited<ReturnType<FetchFunction>>;

const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/**
 * The transport @slack/web-api calls for each request (its `fetch` option): plain node:http(s)
 * over kept-alive connections. Node's built-in fetch costs the worker about 0.4 ms of CPU more
 * per Slack call, and a worker makes one or two per event. Form bodies (file uploads) go
 * through the built-in fetch, which builds their multipart encoding.
 */
export const slackHttpTransport: FetchFunction = (url, init = {}) => {
  if (init.body !== undefined && typeof init.body !== 'string') return globalThis.fetch(url, init as RequestInit);
  const target = new URL(url);
  const body = init.body ?? '';
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<FetchResponse>((resolve, reject) => {
    const req = send(
      target,
      {
        method: init.method ?? 'GET',
        headers: { ...init.headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: target.protocol === 'https:' ? agents.https : agents.http,
        ...(init.signal && { signal: init.signal }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const data = Buffer.concat(chunks);
          const headers = new Map(Object.entries(res.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]));
          const status = res.statusCode ?? 0;
          resolve({
            ok: status >= 200 && status < 300,
            status,
            statusText: res.statusMessage ?? '',
            url: target.href,
            headers: { get: (name: string) => headers.get(name.toLowerCase()) ?? null, entries: () => headers.entries() },
            arrayBuffer: async () => data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
            json: async () => JSON.parse(data.toString('utf8')) as unknown,
            text: async () => data.toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
};
