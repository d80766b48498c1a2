import { AppError } from './errors.js';

/** Keyset position for newest-first lists: the sort time and the id as tie-breaker. */
export interface Cursor {
  at: Date;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.at.toISOString()}|${cursor.id}`).toString('base64url');
}

export function decodeCursor(value: string): Cursor {
  const [at, id] = Buffer.from(value, 'base64url').toString('utf8').split('|');
  const date = at === undefined ? undefined : new Date(at);
  if (date === undefined || Number.isNaN(date.getTime()) || id === undefined || !/^[0-9a-f-]{36}$/i.test(id)) {
    throw new AppError('validation_failed', '`cursor` is not a cursor this API returned');
  }
  return { at: date, id };
}

/** Cuts a page fetched with `limit + 1` rows into items and the next cursor. */
export function toPage<T>(rows: T[], limit: number, position: (row: T) => Cursor): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null };
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
