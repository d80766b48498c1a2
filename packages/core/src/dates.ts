/** The instants every reader can print as `YYYY-MM-DDTHH:mm:ss.sssZ` (ISO 8601 with a four-digit year). */
const EARLIEST = Date.parse('0000-01-01T00:00:00.000Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * Whether a value read from the database is a date that can be shown and compared. PostgreSQL
 * holds times from 4713 BC to 294276 AD and ±infinity; Prisma reads those outside years
 * 1-9999 as an Invalid Date, and `pg` as a Date, a number or an Invalid Date.
 */
export function isReadableDate(value: unknown): value is Date {
  if (!(value instanceof Date)) return false;
  const ms = value.getTime();
  return ms >= EARLIEST && ms <= LATEST;
}

/**
 * The one way every API and UI view prints a stored time: ISO 8601 in UTC, or null for a time
 * that cannot be read (see `isReadableDate`). Never throws, whatever the database held.
 */
export function isoDate(value: unknown): string | null {
  return isReadableDate(value) ? value.toISOString() : null;
}
