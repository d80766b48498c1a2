import { isReadableDate } from './dates.js';
import { AppError } from './errors.js';

/** Keyset position for newest-first lists: the sort time and the id as tie-breaker. */
export interface Cursor {
  at: Date;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.at.toISOString()}|${cursor.id}`).toString('base64url');
}

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * Only what `encodeCursor` makes is a cursor: anything else (a date PostgreSQL cannot hold, an
 * id that is not a UUID) is refused here rather than by the database.
 */
export function decodeCursor(value: string): Cursor {
  const match = /^[A-Za-z0-9_-]{1,200}$/.test(value) ? CURSOR.exec(Buffer.from(value, 'base64url').toString('utf8')) : null;
  const date = match ? new Date(match[1]!) : undefined;
  if (!match || date === undefined || Number.isNaN(date.getTime()) || date.toISOString() !== match[1]) {
    throw new AppError('validation_failed', '`cursor` is not a cursor this API returned');
  }
  return { at: date, id: match[2]! };
}

/**
 * Cuts a page fetched with `limit + 1` rows into items and the next cursor. A cursor holds a
 * readable time, so the page ends on the last row that has one and the rows after it come on
 * the next page; a page with no such row (only times the database holds out of range) ends the list.
 */
export function toPage<T>(rows: T[], limit: number, position: (row: T) => Cursor): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  if (rows.length <= limit) return { items, nextCursor: null };
  let end = items.length;
  while (end > 0 && !isReadableDate(position(items[end - 1]!).at)) end -= 1;
  if (end === 0) return { items, nextCursor: null };
  return { items: items.slice(0, end), nextCursor: encodeCursor(position(items[end - 1]!)) };
}

/**
 * Prisma arguments for one newest-first page keyed on (`field`, id): the rows after the
 * cursor, in order, one more than the limit so `toPage` can tell whether another page follows.
 */
export function newestFirst<F extends string>(field: F, page: { limit: number; cursor?: string | undefined }) {
  const cursor = page.cursor ? decodeCursor(page.cursor) : undefined;
  const after = cursor && { OR: [{ [field]: { lt: cursor.at } }, { [field]: cursor.at, id: { lt: cursor.id } }] };
  return {
    where: after as { OR: ({ [K in F]: { lt: Date } } | ({ [K in F]: Date } & { id: { lt: string } }))[] } | undefined,
    orderBy: [{ [field]: 'desc' }, { id: 'desc' }] as [{ [K in F]: 'desc' }, { id: 'desc' }],
    take: page.limit + 1,
  };
}
