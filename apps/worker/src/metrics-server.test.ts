import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '@pulsebridge/core';
import { startMetricsServer } from './metrics-server.js';

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

async function scrape(token: string | undefined, authorization?: string) {
  server = await startMetricsServer(createMetrics({ process: 'worker' }), 0, { token });
  const { port } = server.address() as AddressInfo;
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, body: await response.text(), challenge: response.headers.get('www-authenticate') };
}

describe('worker /metrics', () => {
  it('is public when METRICS_TOKEN is unset', async () => {
    const { status, body } = await scrape(undefined);
    expect(status).toBe(200);
    expect(body).toContain('pulsebridge_job_duration_seconds');
  });

  it('with METRICS_TOKEN set, answers only its bearer token', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', 'Basic bWV0cmljcy10b2tlbi0x', 'metrics-token-1', 'Bearer metrics-token-12']) {
      const refused = await scrape('metrics-token-1', authorization);
      expect(refused.status, String(authorization)).toBe(401);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'unauthorized' } });
      expect(refused.challenge).toMatch(/^Bearer/);
      server?.close();
    }
    const allowed = await scrape('metrics-token-1', 'Bearer metrics-token-1');
    expect(allowed.status).toBe(200);
    expect(allowed.body).toContain('pulsebridge_job_duration_seconds');
  });
});
