/**
 * The SQLSTATE of an error from PostgreSQL, raised through `pg` (a `DatabaseError`: `code` beside
 * `severity`) or through Prisma's driver adapter (`meta.driverAdapterError.cause.originalCode`);
 * undefined for anything else (Prisma's own `P....` codes, network errors).
 */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const cause = (error as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } }).meta?.driverAdapterError?.cause;
  if (typeof cause?.originalCode === 'string') return cause.originalCode;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && typeof severity === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Whether PostgreSQL refused a value (SQLSTATE class 22, data exception: a NUL byte in text,
 * a malformed uuid, a date out of range...): the value's fault, never the database's health.
 */
export function isDataException(error: unknown): boolean {
  return sqlStateOf(error)?.startsWith('22') ?? false;
}
