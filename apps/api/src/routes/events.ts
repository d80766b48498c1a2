import { z } from 'zod';
import { AppError, EVENT_STATUSES, EventFilterSchema, getEvent, isoDate, listEvents, replayEvent, type PrismaClient, type Queues } from '@pulsebridge/core';
import { IdParamsSchema, PageQuerySchema, pageOf, type RouteTable } from '../http/route-table.js';

const EventSummarySchema = z.object({
  id: z.string(),
  eventId: z.string(),
  deliveryId: z.string().nullable(),
  source: z.enum(['heroku_webhook', 'heroku_addon', 'heroku_drain']),
  integrationId: z.string().nullable(),
  addonResourceId: z.string().nullable(),
  resource: z.string(),
  entity: z.string(),
  action: z.string().nullable(),
  appName: z.string().nullable(),
  occurredAt: z.string().nullable(),
  status: z.enum(EVENT_STATUSES),
  error: z.string().nullable(),
  deliveryCount: z.number().int(),
  /** Times are null when the database holds one that cannot be read (see `isoDate`). */
  receivedAt: z.string().nullable(),
  lastDeliveredAt: z.string().nullable(),
  processedAt: z.string().nullable(),
});

const EventDetailSchema = EventSummarySchema.extend({ payload: z.unknown() });

function present<T extends { occurredAt: Date | null; receivedAt: Date; lastDeliveredAt: Date; processedAt: Date | null }>(row: T) {
  return { ...row, occurredAt: isoDate(row.occurredAt), receivedAt: isoDate(row.receivedAt), lastDeliveredAt: isoDate(row.lastDeliveredAt), processedAt: isoDate(row.processedAt) };
}

export function registerEventRoutes(routes: RouteTable, deps: { prisma: PrismaClient; queues: Queues }) {
  routes.add({
    method: 'get',
    path: '/api/v1/events',
    summary: 'The raw archive: every delivery as received, newest first',
    tag: 'events',
    role: 'responder',
    query: PageQuerySchema.extend(EventFilterSchema.shape),
    responses: { 200: { description: 'a page of events (without payloads)', schema: pageOf(EventSummarySchema) } },
    handler: async ({ query }) => {
      const page = await listEvents(deps.prisma, query);
      return { status: 200, body: { items: page.items.map(present), nextCursor: page.nextCursor } };
    },
  });

  routes.add({
    method: 'get',
    path: '/api/v1/events/:id',
    summary: 'One archived event with its payload',
    tag: 'events',
    role: 'responder',
    params: IdParamsSchema,
    responses: { 200: { description: 'the event', schema: EventDetailSchema }, 404: { description: 'unknown event' } },
    handler: async ({ params }) => {
      const row = await getEvent(deps.prisma, params.id);
      if (!row) throw new AppError('not_found', 'no event has this id');
      return { status: 200, body: present(row) };
    },
  });

  routes.add({
    method: 'post',
    path: '/api/v1/events/:id/replay',
    summary: 'Process an archived event again under today’s rules (creates nothing twice)',
    tag: 'events',
    role: 'admin',
    params: IdParamsSchema,
    responses: { 202: { description: 'queued', schema: z.object({ id: z.string(), status: z.literal('queued') }) }, 404: { description: 'unknown event' } },
    handler: async ({ params }) => {
      const row = await replayEvent(deps.prisma, deps.queues, params.id);
      return { status: 202, body: { id: row.id, status: 'queued' as const } };
    },
  });
}
