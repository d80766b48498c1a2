import { z } from 'zod';
import { SEVERITIES } from '../rules/severity.js';
import { Prisma, type Db, type PrismaClient } from '../db/client.js';
import { AppError } from '../errors.js';
import { TEST_APP_PREFIX, isTestAppName } from '../events/test-events.js';
import { newestFirst, toPage } from '../pagination.js';
import { claimServiceHistory } from './service-history.js';

/**
 * Services: what they accept and how they are read and written, for the REST API and the web
 * UI alike. A service made or given new apps claims their open incidents and last day's pulses.
 */

/**
 * A Heroku app name as events carry it. Matching is exact (case-sensitive), so names are kept
 * as given; only blank names, control characters and test events' own names (`test:...`) are refused.
 */
export const HerokuAppNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(100)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/, { error: 'must not contain control characters' })
  .refine((name): boolean => !isTestAppName(name), { error: `must not start with ${TEST_APP_PREFIX} (test events' apps)` });
/** A channel id (C0123ABC) or a name (#ops or ops). */
export const SlackChannelSchema = z.string().trim().min(1).max(80).regex(/^#?[A-Za-z0-9._-]+$/, { error: 'is not a Slack channel id or name' });

const unique = <T extends z.ZodType<string>>(item: T) => z.array(item).max(200).transform((values) => [...new Set(values)]);

export const ServiceFieldsSchema = z.object({
  name: z.string().trim().min(1, { error: 'a service needs a name' }).max(100, { error: 'is longer than 100 characters' }),
  herokuAppNames: unique(HerokuAppNameSchema),
  slackChannels: unique(SlackChannelSchema),
  /** Whether deployment pulses of the service's apps go to its channels. */
  postPulses: z.boolean(),
  /** Incidents below this severity stay in the UI (no Slack message); `info`: every incident is posted. */
  postMinSeverity: z.enum(SEVERITIES),
});

// Defaults only on create: a change that omits a field leaves it alone.
export const CreateServiceSchema = ServiceFieldsSchema.extend({
  herokuAppNames: ServiceFieldsSchema.shape.herokuAppNames.default([]),
  slackChannels: ServiceFieldsSchema.shape.slackChannels.default([]),
  postPulses: ServiceFieldsSchema.shape.postPulses.default(true),
  postMinSeverity: ServiceFieldsSchema.shape.postMinSeverity.default('info'),
});
export const UpdateServiceSchema = ServiceFieldsSchema.partial().refine((value) => Object.keys(value).length > 0, { error: 'name at least one field to change' });

export type ServiceInput = z.output<typeof CreateServiceSchema>;
export type ServiceChange = z.output<typeof UpdateServiceSchema>;

export const SERVICE_SELECT = { id: true, name: true, herokuAppNames: true, slackChannels: true, postPulses: true, postMinSeverity: true, createdAt: true, updatedAt: true } as const;
export type ServiceRow = Prisma.ServiceGetPayload<{ select: typeof SERVICE_SELECT }>;
export type ClaimedHistory = Awaited<ReturnType<typeof claimServiceHistory>>;

const notFound = () => new AppError('not_found', 'no service has this id');

function refused(error: unknown, name: string | undefined): never {
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') throw new AppError('conflict', `a service named ${JSON.stringify(name)} already exists`);
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025') throw notFound();
  throw error;
}

export async function createService(prisma: PrismaClient, input: ServiceInput): Promise<{ service: ServiceRow; claimed: ClaimedHistory }> {
  return prisma
    .$transaction(async (tx) => {
      const service = await tx.service.create({ data: input, select: SERVICE_SELECT });
      return { service, claimed: await claimServiceHistory(tx, service.id, service.herokuAppNames) };
    })
    .catch((error: unknown) => refused(error, input.name));
}

/** Changes the fields given; new app names claim their history. Throws not_found or conflict. */
export async function updateService(prisma: PrismaClient, id: string, change: ServiceChange): Promise<{ service: ServiceRow; claimed: ClaimedHistory | null }> {
  return prisma
    .$transaction(async (tx) => {
      const service = await tx.service.update({ where: { id }, data: change, select: SERVICE_SELECT });
      return { service, claimed: change.herokuAppNames === undefined ? null : await claimServiceHistory(tx, service.id, service.herokuAppNames) };
    })
    .catch((error: unknown) => refused(error, change.name));
}

/** Deletes a service (its incidents and pulses stay, unlinked). Throws not_found. */
export async function deleteService(db: Db, id: string): Promise<void> {
  const { count } = await db.service.deleteMany({ where: { id } });
  if (count === 0) throw notFound();
}

export async function findService(db: Db, id: string): Promise<ServiceRow | null> {
  return db.service.findUnique({ where: { id }, select: SERVICE_SELECT });
}

/** Services newest first, keyset-paginated on (created_at, id). */
export async function listServices(db: Db, page: { limit: number; cursor?: string | undefined }) {
  const rows = await db.service.findMany({ select: SERVICE_SELECT, ...newestFirst('createdAt', page) });
  return toPage(rows, page.limit, (row) => ({ at: row.createdAt, id: row.id }));
}

/** Every service by name, as filter menus and the services page list them. */
export async function servicesByName(db: Db): Promise<ServiceRow[]> {
  return db.service.findMany({ select: SERVICE_SELECT, orderBy: { name: 'asc' } });
}
