import { z } from 'zod';
import { createApiToken, isoDate, listApiTokens, revokeApiToken, type PrismaClient } from '@pulsebridge/core';
import { IdParamsSchema, PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';

const TokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(['admin', 'responder']),
  /** Times are null when the database holds one that cannot be read (see `isoDate`). */
  createdAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

export function registerTokenRoutes(routes: RouteTable, deps: { prisma: PrismaClient }) {
  routes.add({
    method: 'post',
    path: '/api/v1/tokens',
    summary: 'Issue an API token (shown only in this response)',
    tag: 'tokens',
    role: 'admin',
    body: z.object({ name: z.string().trim().min(1).max(100), role: z.enum(['admin', 'responder']) }),
    responses: { 201: { description: 'the new token', schema: z.object({ id: z.string(), token: z.string(), name: z.string(), role: z.string(), createdAt: z.string() }) } },
    handler: async ({ body }) => {
      const created = await createApiToken(deps.prisma, body);
      return { status: 201, body: { ...created, createdAt: isoDate(created.createdAt) } };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/tokens',
    summary: 'List API tokens (never their values)',
    tag: 'tokens',
    role: 'admin',
    query: PageQuerySchema,
    responses: { 200: { description: 'a page of tokens', schema: pageOf(TokenSchema) } },
    handler: async ({ query }) => {
      const page = await listApiTokens(deps.prisma, query);
      const items = page.items.map((row) => ({
        ...row,
        createdAt: isoDate(row.createdAt),
        lastUsedAt: isoDate(row.lastUsedAt),
        revokedAt: isoDate(row.revokedAt),
      }));
      return { status: 200, body: { items, nextCursor: page.nextCursor } };
    },
  });

  routes.add({
    method: 'delete',
    path: '/api/v1/tokens/:id',
    summary: 'Revoke an API token',
    tag: 'tokens',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 204: { description: 'revoked' }, 404: { description: 'unknown token' } },
    handler: async ({ params }) => {
      await revokeApiToken(deps.prisma, params.id);
      return { status: 204 };
    },
  });
}
