import { describe, expect, it } from 'vitest';
import { isReadableDate, isoDate } from './dates.js';
import { toPage } from './pagination.js';

describe('isoDate', () => {
  it.each([
    ['a date', new Date('2026-12-06T12:00:00.123Z'), '2026-12-06T12:00:00.123Z'],
    ['the first readable instant', new Date('0000-01-01T00:00:00.000Z'), '0000-01-01T00:00:00.000Z'],
    ['the last readable instant', new Date('9999-12-31T23:59:59.999Z'), '9999-12-31T23:59:59.999Z'],
    ['year 10000', new Date('+010000-01-01T00:00:00.000Z'), null],
    ['1 BC as JavaScript counts it', new Date('-000001-01-01T00:00:00.000Z'), null],
    ['an Invalid Date (Prisma reading 10000-01-01)', new Date(Number.NaN), null],
    ['infinity as pg reads it', Number.POSITIVE_INFINITY, null],
    ['null', null, null],
    ['a string', '2026-12-06T12:00:00Z', null],
  ])('%s', (_name, value, expected) => {
    expect(isoDate(value)).toBe(expected);
    expect(isReadableDate(value)).toBe(expected !== null);
  });
});

describe('toPage with times that cannot be read', () => {
  const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const row = (n: number, at: Date) => ({ id: id(n), at });
  const bad = new Date(Number.NaN);
  const position = (r: { id: string; at: Date }) => r;

  it('ends a page on its last readable row; the rows after it come on the next page', () => {
    const rows = [row(5, new Date('2026-01-05T00:00:00Z')), row(4, new Date('2026-01-04T00:00:00Z')), row(3, bad), row(2, bad)];
    const page = toPage(rows, 3, position);
    expect(page.items.map((r) => r.id)).toEqual([id(5), id(4)]);
    expect(Buffer.from(page.nextCursor!, 'base64url').toString()).toBe(`2026-01-04T00:00:00.000Z|${id(4)}`);
  });

  it('ends the list after a page with no readable row, and never needs a cursor on the last page', () => {
    expect(toPage([row(3, bad), row(2, bad)], 1, position)).toEqual({ items: [row(3, bad)], nextCursor: null });
    expect(toPage([row(3, bad)], 1, position)).toEqual({ items: [row(3, bad)], nextCursor: null });
  });
});
