import type { Db } from '../db/client.js';
import { AppError } from '../errors.js';
import { newestFirst, toPage } from '../pagination.js';
import { generateApiToken, safeEqual, sha256Hex } from '../crypto.js';
import type { TokenRole } from '../generated/prisma/enums.js';

export type { TokenRole };

/** Who is calling the REST API: recorded on what they do (acknowledge, resolve, run). */
export interface Principal {
  tokenId: string;
  name: string;
  role: TokenRole;
}

/** Issues a token; only its SHA-256 digest is stored, so it is shown once. */
export async function createApiToken(db: Db, input: { name: string; role: TokenRole }) {
  const token = generateApiToken();
  const row = await db.apiToken.create({
    data: { name: input.name, role: input.role, tokenHash: sha256Hex(token) },
    select: { id: true, name: true, role: true, createdAt: true },
  });
  return { ...row, token };
}

/** The principal for a bearer token: ADMIN_TOKEN, or an unrevoked stored token. */
export async function authenticateToken(db: Db, token: string, adminToken: string): Promise<Principal | null> {
  if (safeEqual(token, adminToken)) return { tokenId: 'admin-token', name: 'admin (ADMIN_TOKEN)', role: 'admin' };
  const row = await db.apiToken.findUnique({ where: { tokenHash: sha256Hex(token) }, select: { id: true, name: true, role: true, revokedAt: true, lastUsedAt: true } });
  if (!row || row.revokedAt !== null) return null;
  // Record use at most once a minute per token, so reads do not all become writes.
  if (row.lastUsedAt === null || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    await db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } });
  }
  return { tokenId: row.id, name: row.name, role: row.role };
}

/** API tokens newest first (never their values), keyset-paginated on (created_at, id). */
export async function listApiTokens(db: Db, page: { limit: number; cursor?: string | undefined }) {
  const rows = await db.apiToken.findMany({ select: { id: true, name: true, role: true, createdAt: true, lastUsedAt: true, revokedAt: true }, ...newestFirst('createdAt', page) });
  return toPage(rows, page.limit, (row) => ({ at: row.createdAt, id: row.id }));
}

/** Revokes an active token; throws not_found when there is none with this id. */
export async function revokeApiToken(db: Db, id: string): Promise<void> {
  const { count } = await db.apiToken.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: new Date() } });
  if (count === 0) throw new AppError('not_found', 'no active token has this id');
}

/** Whether a token (a web session's) still stands: it exists and is not revoked. */
export async function isApiTokenActive(db: Db, id: string): Promise<boolean> {
  const row = await db.apiToken.findUnique({ where: { id }, select: { revokedAt: true } });
  return row !== null && row.revokedAt === null;
}
