import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from './logger.js';

describe('log redaction', () => {
  it('never prints credentials from headers or secrets from logged objects', () => {
    let output = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        output += chunk;
        done();
      },
    });
    const logger = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    logger.info({ req: { headers: { authorization: 'Bearer pb_live_token', 'heroku-webhook-hmac-sha256': 'c2lnbmF0dXJl', cookie: 'session=abc' } } }, 'request');
    logger.info({ integration: { secret: 'whsec-123', apiToken: 'heroku-token-456' }, config: { adminToken: 'admin-789' } }, 'created');
    for (const secret of ['pb_live_token', 'c2lnbmF0dXJl', 'session=abc', 'whsec-123', 'heroku-token-456', 'admin-789']) {
      expect(output).not.toContain(secret);
    }
    expect(output.match(/\[redacted\]/g)).toHaveLength(6);
  });
});
