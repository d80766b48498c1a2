import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './pagination.js';

const b64 = (text: string) => Buffer.from(text).toString('base64url');

describe('cursors', () => {
  it('decode what encodeCursor made', () => {
    const cursor = { at: new Date('2026-11-24T10:00:00.123Z'), id: randomUUID() };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it('refuse anything else as a validation error, before it reaches the database', () => {
    const id = randomUUID();
    const garbage = [
      '',
      'garbage!',
      '%00',
      b64('x|y'),
      b64(`2026-01-01T00:00:00.000Z|${'-'.repeat(36)}`),
      b64(`2026-01-01T00:00:00.000Z|${'g'.repeat(36)}`),
      b64(`2026-01-01T00:00:00.000Z|${id}\u0000`),
      b64(`2026-01-01T00:00:00.000Z|${id}|${id}`),
      b64(`-271821-04-20T00:00:00.000Z|${id}`),
      b64(`+275760-09-13T00:00:00.000Z|${id}`),
      b64(`0|${id}`),
      b64(`2026-02-30T00:00:00.000Z|${id}`),
      b64(`2026-01-01|${id}`),
      'A'.repeat(10_000),
    ];
    for (const value of garbage) {
      expect(() => decodeCursor(value), value).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    }
  });
});
