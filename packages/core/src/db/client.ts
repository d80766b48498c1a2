import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { Prisma } from '../generated/prisma/client.js';

export { PrismaClient, Prisma };

/** A Prisma client or the client inside `$transaction`: functions that write take either. */
export type Db = PrismaClient | Prisma.TransactionClient;

export interface Database {
  /** Raw `pg` pool for hot paths (batched ingest inserts); Prisma shares it. */
  pool: pg.Pool;
  prisma: PrismaClient;
  close(): Promise<void>;
}

/** One pool per process, shared by Prisma (through @prisma/adapter-pg) and raw queries. */
export function createDatabase(options: { url: string; ssl?: 'verify' | 'no-verify' | 'off' | undefined; maxConnections?: number; onError?: (err: Error) => void }): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    ...(options.ssl === 'no-verify' && { ssl: { rejectUnauthorized: false } }),
    ...(options.ssl === 'verify' && { ssl: true }),
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // A dropped idle connection must not crash the process; queries report their own errors.
  pool.on('error', (err) => options.onError?.(err));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: false }) });
  return {
    pool,
    prisma,
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}
