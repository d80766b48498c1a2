import type { NextFunction, Request, Response, Router } from 'express';
import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { AppError, type Principal } from '@pulsebridge/core';
import { requireRole, type Role } from './auth.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal;
  req: Request;
  res: Response;
}

export interface RouteResult {
  status: number;
  body?: unknown;
  /** Redirect instead of a JSON body (OAuth). */
  redirect?: string;
}

/**
 * One REST route: its schemas validate the request and describe it in the OpenAPI
 * document, so the document and the validation cannot drift apart.
 */
export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: Method;
  /** Express path, e.g. `/api/v1/services/:id`. */
  path: string;
  summary: string;
  tag: string;
  /** Least role allowed: responders may read and act on incidents, admins may do anything. */
  role: Role;
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  handler: (ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>>) => Promise<RouteResult>;
}

export const ErrorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string().optional(), issues: z.array(z.unknown()).optional() }),
});

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.output<T> {
  if (schema === undefined) return undefined as z.output<T>;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  const first = issues[0];
  throw new AppError('validation_failed', `invalid ${where}: ${first ? `${first.path || where} ${first.message}` : 'rejected'}`, issues);
}

/** The REST API's routes, registered on an express router and in the OpenAPI registry together. */
export class RouteTable {
  readonly registry = new OpenAPIRegistry();

  constructor(private readonly router: Router) {
    this.registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
    this.registry.registerComponent('securitySchemes', 'herokuSignature', {
      type: 'apiKey',
      in: 'header',
      name: 'Heroku-Webhook-Hmac-SHA256',
      description: 'base64(HMAC-SHA256(integration secret, raw body))',
    });
    this.registry.registerComponent('securitySchemes', 'addonBasic', { type: 'http', scheme: 'basic', description: 'ADDON_ID:ADDON_PASSWORD' });
    this.registry.registerComponent('securitySchemes', 'slackSignature', {
      type: 'apiKey',
      in: 'header',
      name: 'X-Slack-Signature',
      description: 'v0= + hex HMAC-SHA256(SLACK_SIGNING_SECRET, v0:{X-Slack-Request-Timestamp}:{raw body})',
    });
    this.registry.registerComponent('securitySchemes', 'metricsToken', { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when it is set' });
  }

  add<P extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, B extends z.ZodType = z.ZodUndefined>(spec: RouteSpec<P, Q, B>): void {
    const errorResponses: Record<number, { description: string; schema: z.ZodType }> = {
      401: { description: 'missing or unknown token', schema: ErrorSchema },
    };
    if (spec.role === 'admin') errorResponses[403] = { description: 'the token may not administer', schema: ErrorSchema };
    if (spec.params || spec.query || spec.body) errorResponses[400] = { description: 'invalid request', schema: ErrorSchema };
    this.registry.registerPath({
      method: spec.method,
      path: spec.path.replace(/:(\w+)/g, '{$1}'),
      summary: spec.summary,
      tags: [spec.tag],
      security: [{ bearer: [] }],
      // The least role allowed, so clients (and the role tests) read it from the document.
      'x-pulsebridge-role': spec.role,
      request: {
        ...(spec.params && { params: spec.params as unknown as z.ZodObject }),
        ...(spec.query && { query: spec.query as unknown as z.ZodObject }),
        ...(spec.body && { body: { required: true, content: { 'application/json': { schema: spec.body } } } }),
      },
      responses: Object.fromEntries(
        Object.entries({ ...errorResponses, ...spec.responses }).map(([status, response]) => [
          status,
          { description: response.description, ...(response.schema && { content: { 'application/json': { schema: response.schema } } }) },
        ]),
      ),
    });

    this.router[spec.method](spec.path, requireRole(spec.role), async (req: Request, res: Response, next: NextFunction) => {
      try {
        const result = await spec.handler({
          params: parse(spec.params, req.params, 'path'),
          query: parse(spec.query, req.query, 'query'),
          body: parse(spec.body, req.body ?? {}, 'body'),
          principal: res.locals.principal as Principal,
          req,
          res,
        });
        if (result.redirect !== undefined) res.redirect(result.status, result.redirect);
        else if (result.body === undefined) res.status(result.status).end();
        else res.status(result.status).json(result.body);
      } catch (error) {
        next(error);
      }
    });
  }

  /**
   * Documents an endpoint served outside the route table (webhook ingress, Slack, health):
   * in the OpenAPI document only, with the authentication it really uses.
   */
  describe(spec: {
    method: Method;
    path: string;
    summary: string;
    description?: string;
    tag: string;
    security: Record<string, string[]>[];
    params?: z.ZodObject;
    headers?: z.ZodObject;
    body?: { contentType: string; schema: z.ZodType };
    responses: Record<number, { description: string; contentType?: string; schema?: z.ZodType }>;
  }): void {
    this.registry.registerPath({
      method: spec.method,
      path: spec.path,
      summary: spec.summary,
      ...(spec.description !== undefined && { description: spec.description }),
      tags: [spec.tag],
      security: spec.security,
      'x-pulsebridge-role': 'public',
      request: {
        ...(spec.params && { params: spec.params }),
        ...(spec.headers && { headers: spec.headers }),
        ...(spec.body && { body: { required: true, content: { [spec.body.contentType]: { schema: spec.body.schema } } } }),
      },
      responses: Object.fromEntries(
        Object.entries(spec.responses).map(([status, response]) => [
          status,
          { description: response.description, ...(response.schema && { content: { [response.contentType ?? 'application/json']: { schema: response.schema } } }) },
        ]),
      ),
    });
  }

  document(serverUrl: string) {
    return new OpenApiGeneratorV3(this.registry.definitions).generateDocument({
      openapi: '3.0.3',
      info: { title: 'pulsebridge REST API', version: '1.0.0', description: 'Incidents, pulses, services, Heroku integrations and the event archive; also the webhook ingress, Slack interactions and health endpoints, which take no bearer token.' },
      servers: [{ url: serverUrl }],
    });
  }
}

/** `?limit=` (default 50, max 200) and `?cursor=` shared by every list. */
export const PageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).optional(),
});

export const IdParamsSchema = z.object({ id: z.uuid({ error: 'must be a UUID' }) });

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
