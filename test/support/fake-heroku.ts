import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeRendezvous, type FakeRendezvous } from './fake-rendezvous.js';

/**
 * A fake Heroku Platform API (with the OAuth endpoints of id.heroku.com under `/id`) on a real
 * local HTTP server: version-3 Accept header, bearer tokens scoped to apps, request bodies
 * checked against Heroku's published JSON hyper-schema, app webhooks, one-off dynos whose
 * commands really run behind a fake Rendezvous server, and injectable faults.
 */

export interface HerokuCall {
  method: string;
  /** The request target as sent (path and query). */
  path: string;
  /** Parsed JSON or form body; the raw text when it parses as neither; null when empty. */
  body: unknown;
  /** The bearer token (or the password of HTTP Basic on the API); null when none. */
  token: string | null;
  status: number;
}

export interface FakeWebhook {
  id: string;
  app: string;
  include: string[];
  level: 'notify' | 'sync';
  url: string;
  secret: string | null;
  authorization: string | null;
  created_at: string;
  updated_at: string;
}

export interface FakeLogDrain {
  id: string;
  app: string;
  url: string;
  /** `d.<uuid>`: sent by Logplex as Logplex-Drain-Token. */
  token: string;
  created_at: string;
  updated_at: string;
}

export interface FakeDyno {
  id: string;
  app: string;
  /** run.1234 */
  name: string;
  command: string;
  size: string;
  type: string;
  attach: boolean;
  time_to_live: number;
  attach_url: string | null;
  /** starting (attached, nobody connected yet), up, down (exit 0) or crashed. */
  state: string;
  created_at: string;
  env?: Record<string, string>;
  /** The exit status once the process finished, else null. */
  exit_status?: number | null;
  /** The Rendezvous session secret running this dyno. */
  secret?: string;
}

/** A release of an app, as the fake keeps it. */
export interface FakeRelease {
  id: string;
  app: string;
  version: number;
  description: string;
  status: 'pending' | 'succeeded' | 'failed' | 'expired';
  current: boolean;
  eligible_for_rollback: boolean;
  slug: { id: string; commit: string | null } | null;
  user: { id: string; email: string };
  created_at: string;
}

/** A restart Heroku was asked for: one dyno, a process type, or (neither) every dyno. */
export interface FakeRestart {
  app: string;
  dyno: string | null;
  processType: string | null;
  at: string;
}

export type HerokuFault = { status: number; id: string; message: string; retryAfter?: number };

export interface IssuedOAuthToken {
  accessToken: string;
  refreshToken: string;
  /** Date.now()-style milliseconds. */
  expiresAt: number;
  revoked: boolean;
}

export interface FakeHeroku {
  /** HEROKU_API_URL, e.g. http://127.0.0.1:PORT (no trailing slash). */
  apiUrl: string;
  /** HEROKU_ID_URL, e.g. http://127.0.0.1:PORT/id (OAuth endpoints live under it). */
  idUrl: string;
  /** Every request, in arrival order, including refused and faulted ones, with the final status. */
  calls: HerokuCall[];
  /** Webhooks of one app (or of all apps), in creation order; the secret included. */
  webhooks(app?: string): FakeWebhook[];
  /** Dynos of one app (or of all apps), in creation order, with their current state. */
  dynos(app?: string): FakeDyno[];
  /** Log drains of one app (or of all apps), in creation order. */
  logDrains(app?: string): FakeLogDrain[];
  /** Adds a release to an app (the next version, made current when it succeeded) and returns it. */
  addRelease(app: string, release?: { description?: string; status?: FakeRelease['status']; email?: string; commit?: string; eligibleForRollback?: boolean }): FakeRelease;
  /** Releases of an app, oldest first. */
  releases(app: string): FakeRelease[];
  /** The app's dynos by process type (`{web: 2, worker: 1}` runs web.1, web.2, worker.1): what restarts can find. */
  setFormation(app: string, quantities: Record<string, number>): void;
  /** Restarts asked for, in order. */
  restarts(app?: string): FakeRestart[];
  /**
   * Sends app webhooks for what the fake itself does (a rollback's new release), to each
   * webhook of the app that includes the entity, signed with its secret; `target` maps the
   * webhook's URL to where to send it (tests give PUBLIC_URL -> the test server). Off until set.
   */
  deliverWebhooks(target: ((url: string) => string) | null): void;
  /** Sends the `api:release` webhook of a release made with `addRelease` (as Heroku does for a deploy); resolves once delivered. */
  announceRelease(release: FakeRelease): Promise<void>;
  /** Adds an API token that may reach these apps (all others answer 404 not_found for it; apps in `forbidden` answer 403 forbidden). */
  addToken(token: string, access: { apps: string[]; forbidden?: string[] }): void;
  /** The next `count` requests matching answer the fault (nothing else happens). A 429 sets Retry-After when given. */
  failNext(match: { method?: string; path?: RegExp }, count: number, fault: HerokuFault): void;
  /** Value of the RateLimit-Remaining header on every answer (default 4500). */
  setRateLimitRemaining(n: number): void;
  oauth: {
    clientId: string;
    clientSecret: string;
    /** The user id of the account that approves OAuth (`user_id` in token answers, `id` of GET /account). */
    userId: string;
    /** Access tokens issued by OAuth live this many seconds (default 28800); tests set it low (0 = expired at once). */
    setAccessTokenTtl(seconds: number): void;
    /** Apps the account that approves OAuth can reach. */
    setAccountApps(apps: string[]): void;
    /** Revoke a refresh token (or all when omitted): refreshing with it answers 401. */
    revoke(refreshToken?: string): void;
    /** Tokens issued so far. */
    issued(): IssuedOAuthToken[];
  };
  /** Dynos created with attach:true get an attach_url on it. */
  rendezvous: FakeRendezvous;
  /** Forget calls, webhooks, dynos and pending faults (tokens, OAuth state and settings stay). */
  reset(): void;
  close(): Promise<void>;
}

export interface FakeHerokuOptions {
  rendezvous?: { timeScale?: number };
  oauth?: { clientId?: string; clientSecret?: string };
}

export const HEROKU_ACCEPT = 'application/vnd.heroku+json; version=3';

const SCHEMA_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/heroku/platform-api-schema.json');

// ---------------------------------------------------------------------------------------------
// JSON schema (draft-04 subset of Heroku's hyper-schema)

export type JsonSchema = Record<string, any>;

let platformSchema: JsonSchema | undefined;

/** Heroku's Platform API hyper-schema from test/fixtures/heroku (read once per process). */
export function loadPlatformSchema(): JsonSchema {
  platformSchema ??= JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as JsonSchema;
  return platformSchema;
}

/** The request `schema` of a link, e.g. linkSchema('app-webhook', 'POST', 'Create'). */
export function linkSchema(definition: string, method: string, title: string): JsonSchema {
  const links = (loadPlatformSchema().definitions?.[definition]?.links ?? []) as JsonSchema[];
  const link = links.find((l) => l.method === method && l.title === title);
  if (!link?.schema) throw new Error(`no ${method} "${title}" link with a schema on definitions.${definition}`);
  return link.schema as JsonSchema;
}

function resolveRef(root: JsonSchema, ref: string): JsonSchema {
  if (!ref.startsWith('#')) throw new Error(`only local $refs are supported: ${ref}`);
  let node: any = root;
  for (const raw of ref.slice(1).split('/').filter((part) => part !== '')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = node?.[key];
  }
  if (node === undefined || node === null || typeof node !== 'object') throw new Error(`unresolvable $ref ${ref}`);
  return node as JsonSchema;
}

const typeName = (value: unknown) =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;

function isType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'string':
    case 'boolean':
      return typeof value === type;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isInteger(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isPlainObject(value);
    default:
      return true;
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

const article = (type: string) => (type === 'null' ? 'null' : /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);
const childPath = (where: string, key: string | number) => (typeof key === 'number' ? `${where}[${key}]` : where === '' ? key : `${where}.${key}`);
const FORMATS: Record<string, RegExp> = {
  // Loosely: a scheme and something after it, no spaces.
  uri: /^[a-z][a-z0-9+.-]*:\S+$/i,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
};

/**
 * Checks `value` against a schema (draft-04 subset: $ref, type, enum, pattern, format uri/uuid,
 * required, properties, patternProperties, additionalProperties, strictProperties, items,
 * min/maxItems, anyOf/oneOf/allOf, min/maxLength, minimum/maximum). Returns one line per
 * violation, naming the field ('include', 'include[0]', 'env.FOO'); empty when valid.
 */
export function validateSchema(schema: JsonSchema, value: unknown, root: JsonSchema = loadPlatformSchema(), where = ''): string[] {
  if (typeof schema.$ref === 'string') return validateSchema(resolveRef(root, schema.$ref), value, root, where);
  const name = where === '' ? 'the request body' : where;
  const errors: string[] = [];

  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((type) => isType(value, type))) return [`${name} must be ${types.map(article).join(' or ')} (got ${typeName(value)})`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((allowed: unknown) => deepEqual(allowed, value))) {
    errors.push(`${name} must be one of ${schema.enum.map((v: unknown) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(value)})`);
  }

  if (typeof value === 'string') {
    const length = [...value].length;
    if (typeof schema.maxLength === 'number' && length > schema.maxLength) errors.push(`${name} must be at most ${schema.maxLength} characters (got ${length})`);
    if (typeof schema.minLength === 'number' && length < schema.minLength) errors.push(`${name} must be at least ${schema.minLength} characters (got ${length})`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${name} must match ${schema.pattern}`);
    const format = typeof schema.format === 'string' ? FORMATS[schema.format] : undefined;
    if (format && !format.test(value)) errors.push(`${name} must be a valid ${schema.format}`);
  }

  if (typeof value === 'number') {
    const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = schema;
    if (typeof minimum === 'number' && (exclusiveMinimum === true ? value <= minimum : value < minimum)) {
      errors.push(`${name} must be ${exclusiveMinimum === true ? 'greater than' : 'at least'} ${minimum} (got ${value})`);
    }
    if (typeof maximum === 'number' && (exclusiveMaximum === true ? value >= maximum : value > maximum)) {
      errors.push(`${name} must be ${exclusiveMaximum === true ? 'less than' : 'at most'} ${maximum} (got ${value})`);
    }
  }

  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) errors.push(`${name} must have at least ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) errors.push(`${name} must have at most ${schema.maxItems} items`);
    if (schema.uniqueItems === true && new Set(value.map((item) => JSON.stringify(item))).size !== value.length) errors.push(`${name} must not repeat items`);
    if (Array.isArray(schema.items)) {
      schema.items.forEach((itemSchema: JsonSchema, index: number) => {
        if (index < value.length) errors.push(...validateSchema(itemSchema, value[index], root, childPath(where, index)));
      });
    } else if (isPlainObject(schema.items)) {
      value.forEach((item, index) => errors.push(...validateSchema(schema.items, item, root, childPath(where, index))));
    }
  }

  if (isPlainObject(value)) {
    for (const required of Array.isArray(schema.required) ? (schema.required as string[]) : []) {
      if (!(required in value)) errors.push(`${childPath(where, required)} is required`);
    }
    const properties: Record<string, JsonSchema> = isPlainObject(schema.properties) ? (schema.properties as Record<string, JsonSchema>) : {};
    const patterns = Object.entries(isPlainObject(schema.patternProperties) ? (schema.patternProperties as Record<string, JsonSchema>) : {}).map(
      ([pattern, patternSchema]) => [new RegExp(pattern, 'u'), patternSchema] as const,
    );
    const closed = schema.additionalProperties === false || schema.strictProperties === true;
    for (const [key, propertyValue] of Object.entries(value)) {
      const here = childPath(where, key);
      let known = false;
      const propertySchema = properties[key];
      if (propertySchema) {
        known = true;
        errors.push(...validateSchema(propertySchema, propertyValue, root, here));
      }
      for (const [pattern, patternSchema] of patterns) {
        if (!pattern.test(key)) continue;
        known = true;
        errors.push(...validateSchema(patternSchema, propertyValue, root, here));
      }
      if (known) continue;
      if (closed) errors.push(`${here} is not an allowed property`);
      else if (isPlainObject(schema.additionalProperties)) errors.push(...validateSchema(schema.additionalProperties, propertyValue, root, here));
    }
  }

  if (Array.isArray(schema.allOf)) for (const part of schema.allOf as JsonSchema[]) errors.push(...validateSchema(part, value, root, where));
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    if (!Array.isArray(schema[keyword])) continue;
    const outcomes = (schema[keyword] as JsonSchema[]).map((part) => validateSchema(part, value, root, where));
    const matching = outcomes.filter((outcome) => outcome.length === 0).length;
    if (matching === 0) errors.push(`${name} matches none of the allowed forms (${outcomes.map((outcome) => outcome.join(', ')).join('; or ')})`);
    else if (keyword === 'oneOf' && matching > 1) errors.push(`${name} matches more than one of the allowed forms`);
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// The server

/** What the fake stores; `state` and `exit_status` come from the dyno's Rendezvous session. */
type DynoRecord = Omit<FakeDyno, 'state' | 'exit_status' | 'secret'> & { secret: string };

type Principal = { kind: 'api'; apps: Set<string>; forbidden: Set<string> } | { kind: 'oauth' };

interface PendingFault {
  method?: string;
  path?: RegExp;
  remaining: number;
  fault: HerokuFault;
}

const NOT_FOUND_ENDPOINT =
  'The requested API endpoint was not found. Are you using the right HTTP verb (i.e. `GET` vs. `POST`), and did you specify your API version in the `Accept` header?';
const BAD_ACCEPT = "Please specify a version along with Heroku's API MIME type. For example, `Accept: application/vnd.heroku+json; version=3`.";
const MAX_TIME_TO_LIVE = 86_400;
const CODE_TTL_MS = 5 * 60 * 1000;
const MAX_BODY = 1024 * 1024;

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** JSON, or a form, or the raw text; null when empty. */
function parseLoosely(raw: string, contentType: string | undefined): unknown {
  if (raw === '') return null;
  if (contentType?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function credentialsOf(header: string | undefined): { bearer: string | null; basic: { user: string; password: string } | null } {
  const match = /^(\w+)\s+(.+)$/.exec(header?.trim() ?? '');
  if (!match) return { bearer: null, basic: null };
  const [, scheme = '', value = ''] = match;
  if (scheme.toLowerCase() === 'bearer') return { bearer: value.trim(), basic: null };
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return { bearer: null, basic: colon === -1 ? { user: decoded, password: '' } : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) } };
  }
  return { bearer: null, basic: null };
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export async function startFakeHeroku(options: FakeHerokuOptions = {}): Promise<FakeHeroku> {
  const schema = loadPlatformSchema();
  const schemas = {
    webhookCreate: linkSchema('app-webhook', 'POST', 'Create'),
    webhookUpdate: linkSchema('app-webhook', 'PATCH', 'Update'),
    logDrainCreate: linkSchema('log-drain', 'POST', 'Create'),
    releaseRollback: linkSchema('release', 'POST', 'Rollback'),
    dynoCreate: linkSchema('dyno', 'POST', 'Create'),
  };
  const rendezvous = await startFakeRendezvous(options.rendezvous);

  const calls: HerokuCall[] = [];
  let webhookList: FakeWebhook[] = [];
  let drainList: FakeLogDrain[] = [];
  let dynoList: DynoRecord[] = [];
  let releaseList: FakeRelease[] = [];
  let restartList: FakeRestart[] = [];
  const formations = new Map<string, Record<string, number>>();
  let webhookTarget: ((url: string) => string) | null = null;
  let faults: PendingFault[] = [];
  let rateLimitRemaining = 4500;
  const apiTokens = new Map<string, { apps: Set<string>; forbidden: Set<string> }>();
  const appIds = new Map<string, string>();

  const oauthClientId = options.oauth?.clientId ?? randomUUID();
  const oauthClientSecret = options.oauth?.clientSecret ?? randomUUID();
  const userId = randomUUID();
  let accessTokenTtl = 28_800;
  let accountApps = new Set<string>();
  const codes = new Map<string, { used: boolean; expiresAt: number; scope: string }>();
  const refreshTokens = new Map<string, { revoked: boolean }>();
  const accessTokens = new Map<string, { refreshToken: string; expiresAt: number }>();
  const issuedList: { accessToken: string; refreshToken: string; expiresAt: number }[] = [];

  const appId = (name: string) => {
    let id = appIds.get(name);
    if (!id) {
      id = randomUUID();
      appIds.set(name, id);
    }
    return id;
  };
  /** An app identity (name or id) as a name. */
  const appNameOf = (identity: string) => {
    for (const [name, id] of appIds) if (id === identity) return name;
    return identity;
  };

  const now = () => new Date().toISOString();

  const webhookJson = (webhook: FakeWebhook) => ({
    id: webhook.id,
    app: { id: appId(webhook.app), name: webhook.app },
    include: [...webhook.include],
    level: webhook.level,
    url: webhook.url,
    created_at: webhook.created_at,
    updated_at: webhook.updated_at,
  });

  const dynoView = (dyno: DynoRecord): FakeDyno => {
    const session = rendezvous.session(dyno.secret);
    let state = 'starting';
    let exitStatus: number | null = null;
    if (session?.finished) {
      exitStatus = session.exitStatus;
      state = exitStatus === 0 ? 'down' : 'crashed';
    } else if (session?.connectedAt !== undefined) {
      state = 'up';
    }
    return { ...dyno, state, exit_status: exitStatus };
  };

  const dynoJson = (dyno: DynoRecord) => {
    const view = dynoView(dyno);
    const session = rendezvous.session(dyno.secret);
    const changedAt = session?.finishedAt ?? session?.connectedAt;
    return {
      id: view.id,
      name: view.name,
      app: { id: appId(view.app), name: view.app },
      attach_url: view.attach_url,
      command: view.command,
      created_at: view.created_at,
      updated_at: changedAt === undefined ? view.created_at : new Date(changedAt).toISOString(),
      release: null,
      size: view.size,
      state: view.state,
      type: view.type,
      time_to_live: view.time_to_live,
      exit_status: view.exit_status,
    };
  };

  const releaseJson = (release: FakeRelease) => ({
    id: release.id,
    version: release.version,
    description: release.description,
    status: release.status,
    current: release.current,
    eligible_for_rollback: release.eligible_for_rollback,
    app: { id: appId(release.app), name: release.app },
    slug: release.slug,
    user: release.user,
    addon_plan_names: [],
    artifacts: release.slug ? [{ id: release.slug.id, type: 'slug' }] : [],
    output_stream_url: null,
    created_at: release.created_at,
    updated_at: release.created_at,
  });

  const addRelease = (app: string, input: Parameters<FakeHeroku['addRelease']>[1] = {}): FakeRelease => {
    const own = releaseList.filter((r) => r.app === app);
    const status = input.status ?? 'succeeded';
    const release: FakeRelease = {
      id: randomUUID(),
      app,
      version: own.reduce((max, r) => Math.max(max, r.version), 0) + 1,
      description: input.description ?? 'Deploy 1a2b3c4d',
      status,
      current: false,
      eligible_for_rollback: input.eligibleForRollback ?? true,
      slug: { id: randomUUID(), commit: input.commit ?? randomBytes(20).toString('hex') },
      user: { id: randomUUID(), email: input.email ?? 'deployer@example.com' },
      created_at: now(),
    };
    if (status === 'succeeded') for (const r of own) r.current = false;
    release.current = status === 'succeeded';
    releaseList.push(release);
    return release;
  };

  /** Posts an app webhook delivery of `entity` to each webhook of the app that includes it (after the API has answered). */
  const deliver = async (app: string, entity: string, action: string, data: unknown) => {
    if (webhookTarget === null) return;
    const target = webhookTarget;
    const sends: Promise<unknown>[] = [];
    for (const webhook of webhookList.filter((w) => w.app === app && w.include.includes(entity))) {
      const eventId = randomUUID();
      const body = JSON.stringify({
        id: eventId,
        data,
        actor: { id: userId, email: 'owner@example.com' },
        action,
        version: 'application/vnd.heroku+json; version=3',
        resource: entity.replace(/^api:/, ''),
        sequence: null,
        created_at: now(),
        updated_at: now(),
        published_at: now(),
        previous_data: {},
        webhook_metadata: { attempt: { id: randomUUID() }, delivery: { id: randomUUID() }, event: { id: eventId, include: entity }, webhook: { id: webhook.id } },
      });
      const signature = createHmac('sha256', webhook.secret ?? '').update(body).digest('base64');
      sends.push(
        fetch(target(webhook.url), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Heroku-Webhook-Hmac-SHA256': signature, ...(webhook.authorization !== null && { Authorization: webhook.authorization }) },
          body,
        }).catch(() => undefined),
      );
    }
    await Promise.all(sends);
  };

  /** The dynos an app's formation runs (`web.1`, `web.2`, ...). */
  const formationDynos = (app: string) => Object.entries(formations.get(app) ?? {}).flatMap(([type, quantity]) => Array.from({ length: quantity }, (_, i) => `${type}.${i + 1}`));

  const issueAccessToken = (refreshToken: string) => {
    const accessToken = randomUUID();
    const expiresAt = Date.now() + accessTokenTtl * 1000;
    accessTokens.set(accessToken, { refreshToken, expiresAt });
    issuedList.push({ accessToken, refreshToken, expiresAt });
    return {
      access_token: accessToken,
      refresh_token: refreshToken,
      expires_in: Math.max(0, Math.round(accessTokenTtl)),
      token_type: 'Bearer',
      user_id: userId,
      session_nonce: randomBytes(16).toString('hex'),
    };
  };

  const principalOf = (token: string | null): Principal | null => {
    if (token === null) return null;
    const api = apiTokens.get(token);
    if (api) return { kind: 'api', ...api };
    const oauth = accessTokens.get(token);
    if (!oauth || Date.now() >= oauth.expiresAt || refreshTokens.get(oauth.refreshToken)?.revoked !== false) return null;
    return { kind: 'oauth' };
  };

  const accessTo = (principal: Principal, app: string): 'ok' | 'forbidden' | 'not_found' => {
    if (principal.kind === 'oauth') return accountApps.has(app) ? 'ok' : 'not_found';
    if (principal.forbidden.has(app)) return 'forbidden';
    return principal.apps.has(app) ? 'ok' : 'not_found';
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const raw = await readBody(req);
    const target = req.url ?? '/';
    const url = new URL(target, 'http://fake-heroku.invalid');
    const pathname = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const isId = pathname === '/id' || pathname.startsWith('/id/');
    const credentials = credentialsOf(req.headers.authorization);
    const token = credentials.bearer ?? (isId ? null : (credentials.basic?.password ?? null));
    const call: HerokuCall = { method, path: target, body: parseLoosely(raw, req.headers['content-type']), token, status: 0 };
    calls.push(call);

    const reply = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      res.writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'RateLimit-Remaining': String(rateLimitRemaining),
        'Request-Id': randomUUID(),
        ...headers,
      });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    const fail = (status: number, id: string, message: string, extra: Record<string, unknown> = {}) => reply(status, { id, message, ...extra });

    // Faults first: nothing else happens for a faulted request.
    const pending = faults.find((f) => {
      if (f.method !== undefined && f.method.toUpperCase() !== method) return false;
      if (f.path === undefined) return true;
      f.path.lastIndex = 0;
      return f.path.test(pathname);
    });
    if (pending) {
      pending.remaining -= 1;
      if (pending.remaining <= 0) faults = faults.filter((f) => f !== pending);
      const { status, id, message, retryAfter } = pending.fault;
      return reply(status, { id, message }, retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) });
    }

    if (isId) return handleOAuth();

    if (!/application\/vnd\.heroku\+json;\s*version=3\b/i.test(String(req.headers.accept ?? ''))) return fail(400, 'bad_request', BAD_ACCEPT);
    const principal = principalOf(token);
    if (!principal) return fail(401, 'unauthorized', 'Invalid credentials provided.');

    if (pathname === '/account' && method === 'GET') return reply(200, { id: userId, email: 'owner@example.com', name: 'Fake Heroku Owner' });

    const appMatch = /^\/apps\/([^/]+)(\/.*)?$/.exec(pathname);
    if (!appMatch) return fail(404, 'not_found', NOT_FOUND_ENDPOINT);
    const app = appNameOf(decodeURIComponent(appMatch[1] ?? ''));
    const rest = (appMatch[2] ?? '').replace(/\/$/, '');
    const access = accessTo(principal, app);
    if (access === 'forbidden') return fail(403, 'forbidden', `You do not have access to the app ${app}.`);
    if (access === 'not_found') return fail(404, 'not_found', "Couldn't find that app.");

    let input: unknown = {};
    if (raw.trim() !== '') {
      try {
        input = JSON.parse(raw) as unknown;
      } catch {
        return fail(400, 'bad_request', 'Request invalid, validate usage and try again. (The body is not valid JSON.)');
      }
    }
    const invalid = (errors: string[]) => fail(422, 'invalid_params', `Invalid params: ${errors.join('; ')}.`);

    if (rest === '') {
      if (method === 'GET') return reply(200, { id: appId(app), name: app });
      return fail(404, 'not_found', NOT_FOUND_ENDPOINT);
    }

    // Log drains (Platform API "Log Drain"): Heroku refuses a second drain with the same URL on an app.
    const drainJson = (drain: FakeLogDrain) => ({ id: drain.id, url: drain.url, token: drain.token, addon: null, app: { id: appId(drain.app), name: drain.app }, created_at: drain.created_at, updated_at: drain.updated_at });
    if (rest === '/log-drains') {
      if (method === 'GET') return reply(200, drainList.filter((d) => d.app === app).map(drainJson));
      if (method !== 'POST') return fail(404, 'not_found', NOT_FOUND_ENDPOINT);
      const errors = validateSchema(schemas.logDrainCreate, input, schema);
      if (errors.length > 0) return invalid(errors);
      const { url } = input as { url: string };
      if (!/^(https?|syslog(\+tls)?):\/\//.test(url)) return fail(422, 'invalid_params', 'Url is invalid.');
      if (drainList.some((d) => d.app === app && d.url === url)) return fail(422, 'invalid_params', 'Url has already been taken.');
      const drain: FakeLogDrain = { id: randomUUID(), app, url, token: `d.${randomUUID()}`, created_at: now(), updated_at: now() };
      drainList.push(drain);
      return reply(201, drainJson(drain));
    }
    const drainMatch = /^\/log-drains\/([^/]+)$/.exec(rest);
    if (drainMatch) {
      // By id, URL or token, as Heroku's query_identity allows.
      const identity = decodeURIComponent(drainMatch[1] ?? '');
      const drain = drainList.find((d) => d.app === app && (d.id === identity || d.url === identity || d.token === identity));
      if (!drain) return fail(404, 'not_found', "Couldn't find that log drain.");
      if (method === 'GET') return reply(200, drainJson(drain));
      if (method === 'DELETE') {
        drainList = drainList.filter((d) => d !== drain);
        return reply(200, drainJson(drain));
      }
      return fail(404, 'not_found', NOT_FOUND_ENDPOINT);
    }

    if (rest === '/webhooks') {
      if (method === 'GET') return reply(200, webhookList.filter((w) => w.app === app).map(webhookJson));
      if (method !== 'POST') return fail(404, 'not_found', NOT_FOUND_ENDPOINT);
      const errors = validateSchema(schemas.webhookCreate, input, schema);
      if (errors.length > 0) return invalid(errors);
      const body = input as { include: string[]; level: 'notify' | 'sync'; url: string; secret?: string | null; authorization?: string | null };
      if (webhookList.some((w) => w.app === app && w.url === body.url)) return fail(409, 'conflict', `A webhook with the URL ${body.url} already exists on ${app}.`);
      const generated = typeof body.secret === 'string' ? null : randomBytes(30).toString('hex');
      const created = now();
      const webhook: FakeWebhook = {
        id: randomUUID(),
        app,
        include: [...body.include],
        level: body.level,
        url: body.url,
        secret: generated ?? (body.secret as string),
        authorization: body.authorization ?? null,
        created_at: created,
        updated_at: created,
      };
      webhookList.push(webhook);
      return reply(201, webhookJson(webhook), generated ? { 'Heroku-Webhook-Secret': generated } : {});
    }

    const webhookMatch = /^\/webhooks\/([^/]+)$/.exec(rest);
    if (webhookMatch) {
      const id = decodeURIComponent(webhookMatch[1] ?? '');
      const webhook = webhookList.find((w) => w.app === app && w.id === id);
      if (!webhook) return fail(404, 'not_found', "Couldn't find that webhook.");
      if (method === 'GET') return reply(200, webhookJson(webhook));
      if (method === 'DELETE') {
        webhookList = webhookList.filter((w) => w !== webhook);
        return reply(200, webhookJson(webhook));
      }
      if (method !== 'PATCH') return fail(404, 'not_found', NOT_FOUND_ENDPOINT);
      const errors = validateSchema(schemas.webhookUpdate, input, schema);
      if (errors.length > 0) return invalid(errors);
      const body = input as Partial<{ include: string[]; level: 'notify' | 'sync'; url: string; secret: string | null; authorization: string | null }>;
      if (body.url !== undefined && webhookList.some((w) => w !== webhook && w.app === app && w.url === body.url)) {
        return fail(409, 'conflict', `A webhook with the URL ${body.url} already exists on ${app}.`);
      }
      if (body.include !== undefined) webhook.include = [...body.include];
      if (body.level !== undefined) webhook.level = body.level;
      if (body.url !== undefined) webhook.url = body.url;
      if (body.secret !== undefined) webhook.secret = body.secret;
      if (body.authorization !== undefined) webhook.authorization = body.authorization;
      webhook.updated_at = now();
      return reply(200, webhookJson(webhook));
    }

    // Restart all (Platform API "Dyno": Restart all).
    if (rest === '/dynos' && method === 'DELETE') {
      restartList.push({ app, dyno: null, processType: null, at: now() });
      return reply(202, {});
    }
    if (rest === '/dynos') {
      if (method === 'GET') return reply(200, dynoList.filter((d) => d.app === app).map(dynoJson));
      if (method !== 'POST') return fail(404, 'not_found', NOT_FOUND_ENDPOINT);
      const errors = validateSchema(schemas.dynoCreate, input, schema);
      const body = input as { command: string; attach?: boolean; size?: string; type?: string; time_to_live?: number; env?: Record<string, string> };
      if (errors.length === 0 && body.time_to_live !== undefined && (body.time_to_live < 1 || body.time_to_live > MAX_TIME_TO_LIVE)) {
        errors.push(`time_to_live must be between 1 and ${MAX_TIME_TO_LIVE} seconds (got ${body.time_to_live})`);
      }
      if (errors.length > 0) return invalid(errors);
      const taken = new Set(dynoList.filter((d) => d.app === app).map((d) => d.name));
      let name: string;
      do name = `run.${1000 + Math.floor(Math.random() * 9000)}`;
      while (taken.has(name));
      const attach = body.attach === true;
      const timeToLive = body.time_to_live ?? MAX_TIME_TO_LIVE;
      const session = rendezvous.register(body.command, {
        timeToLiveSeconds: timeToLive,
        env: { ...body.env, DYNO: name },
        detached: !attach,
      });
      const dyno: DynoRecord = {
        id: randomUUID(),
        app,
        name,
        command: body.command,
        size: body.size ?? 'standard-1X',
        type: body.type ?? 'run',
        attach,
        time_to_live: timeToLive,
        attach_url: attach ? session.url : null,
        created_at: now(),
        ...(body.env !== undefined && { env: { ...body.env } }),
        secret: session.secret,
      };
      dynoList.push(dyno);
      return reply(201, dynoJson(dyno));
    }

    // Releases (Platform API "Release"): listed with a Range header, found by id or version, rolled back.
    if (rest === '/releases') {
      if (method === 'GET') {
        const range = /^version\s+\.\.(?:;\s*(.*))?$/.exec(String(req.headers.range ?? 'version ..'));
        const params = new Map((range?.[1] ?? '').split(',').map((part) => part.trim().split('=') as [string, string]));
        const max = Math.min(Number(params.get('max') ?? 200) || 200, 1000);
        const ordered = releaseList.filter((r) => r.app === app).sort((a, b) => a.version - b.version);
        if (params.get('order') === 'desc') ordered.reverse();
        return reply(ordered.length > max ? 206 : 200, ordered.slice(0, max).map(releaseJson));
      }
      if (method !== 'POST') return fail(404, 'not_found', NOT_FOUND_ENDPOINT);
      if (typeof (input as { release?: unknown }).release !== 'string') return invalid(['only rollbacks ({release}) are supported by this fake']);
      const errors = validateSchema(schemas.releaseRollback, input, schema);
      if (errors.length > 0) return invalid(errors);
      const target = releaseList.find((r) => r.app === app && r.id === (input as { release: string }).release);
      if (!target) return fail(404, 'not_found', "Couldn't find that release.");
      if (!target.eligible_for_rollback) return fail(422, 'invalid_params', `Release v${target.version} is not eligible for rollback.`);
      const release = addRelease(app, { description: `Rollback to v${target.version}`, email: 'owner@example.com', ...(target.slug?.commit && { commit: target.slug.commit }) });
      release.slug = target.slug;
      reply(201, releaseJson(release));
      void deliver(app, 'api:release', 'create', releaseJson(release));
      return;
    }
    const releaseMatch = /^\/releases\/([^/]+)$/.exec(rest);
    if (releaseMatch && method === 'GET') {
      const identity = decodeURIComponent(releaseMatch[1] ?? '');
      const release = releaseList.find((r) => r.app === app && (r.id === identity || String(r.version) === identity));
      if (!release) return fail(404, 'not_found', "Couldn't find that release.");
      return reply(200, releaseJson(release));
    }

    // Restarts (Platform API "Dyno": Restart, Restart formation, Restart all): 202 with an empty object.
    const formationMatch = /^\/formations\/([^/]+)$/.exec(rest);
    if (formationMatch && method === 'DELETE') {
      const processType = decodeURIComponent(formationMatch[1] ?? '');
      if (!(processType in (formations.get(app) ?? {}))) return fail(404, 'not_found', "Couldn't find that formation.");
      restartList.push({ app, dyno: null, processType, at: now() });
      return reply(202, {});
    }
    const dynoMatch = /^\/dynos\/([^/]+)$/.exec(rest);
    if (dynoMatch && method === 'DELETE') {
      const identity = decodeURIComponent(dynoMatch[1] ?? '');
      const oneOff = dynoList.find((d) => d.app === app && (d.id === identity || d.name === identity));
      if (!oneOff && !formationDynos(app).includes(identity)) return fail(404, 'not_found', "Couldn't find that dyno.");
      restartList.push({ app, dyno: oneOff?.name ?? identity, processType: null, at: now() });
      return reply(202, {});
    }
    if (dynoMatch && method === 'GET') {
      const identity = decodeURIComponent(dynoMatch[1] ?? '');
      const dyno = dynoList.find((d) => d.app === app && (d.id === identity || d.name === identity));
      if (!dyno) return fail(404, 'not_found', "Couldn't find that dyno.");
      return reply(200, dynoJson(dyno));
    }

    return fail(404, 'not_found', NOT_FOUND_ENDPOINT);

    function handleOAuth() {
      if (pathname === '/id/oauth/authorize' && method === 'GET') {
        const q = url.searchParams;
        if (q.get('client_id') !== oauthClientId) return fail(400, 'bad_request', 'Invalid client_id.', { error: 'invalid_client' });
        if (q.get('response_type') !== 'code') return fail(400, 'bad_request', 'Unsupported response_type: only "code" is supported.', { error: 'unsupported_response_type' });
        let redirect: URL;
        try {
          redirect = new URL(q.get('redirect_uri') ?? `${apiUrl}/id/oauth/callback`);
        } catch {
          return fail(400, 'bad_request', 'Invalid redirect_uri.', { error: 'invalid_request' });
        }
        const code = randomBytes(20).toString('hex');
        codes.set(code, { used: false, expiresAt: Date.now() + CODE_TTL_MS, scope: q.get('scope') ?? '' });
        redirect.searchParams.set('code', code);
        const state = q.get('state');
        if (state !== null) redirect.searchParams.set('state', state);
        const location = redirect.toString();
        call.status = 302;
        res.writeHead(302, { Location: location, 'Content-Type': 'text/html; charset=utf-8', 'RateLimit-Remaining': String(rateLimitRemaining) });
        res.end(`<html><body>You are being <a href="${escapeHtml(location)}">redirected</a>.</body></html>`);
        return;
      }

      if (pathname === '/id/oauth/callback' && method === 'GET') {
        // Where the authorize redirect lands when no redirect_uri was given.
        return reply(200, { code: url.searchParams.get('code'), state: url.searchParams.get('state') });
      }

      if (pathname === '/id/oauth/token' && method === 'POST') {
        const params: Record<string, unknown> = isPlainObject(call.body) ? call.body : {};
        const param = (key: string) => (typeof params[key] === 'string' ? (params[key] as string) : undefined);
        const clientSecret = param('client_secret') ?? credentials.basic?.password;
        const clientId = param('client_id') ?? credentials.basic?.user;
        const badClient = () =>
          fail(401, 'unauthorized', 'Invalid OAuth credentials.', { error: 'invalid_client', error_description: 'Invalid OAuth credentials.' });
        if (clientSecret !== oauthClientSecret) return badClient();
        if (clientId !== undefined && clientId !== '' && clientId !== oauthClientId) return badClient();

        const grantType = param('grant_type');
        if (grantType === 'authorization_code') {
          const code = codes.get(param('code') ?? '');
          if (!code || code.used || Date.now() >= code.expiresAt) {
            return fail(401, 'unauthorized', 'Invalid OAuth credentials.', { error: 'invalid_grant', error_description: 'Invalid or used authorization code.' });
          }
          code.used = true;
          const refreshToken = randomUUID();
          refreshTokens.set(refreshToken, { revoked: false });
          return reply(200, issueAccessToken(refreshToken));
        }
        if (grantType === 'refresh_token') {
          const refreshToken = param('refresh_token') ?? '';
          if (refreshTokens.get(refreshToken)?.revoked !== false) {
            return fail(401, 'unauthorized', 'Invalid refresh token.', { error: 'invalid_grant', error_description: 'Invalid refresh token.' });
          }
          return reply(200, issueAccessToken(refreshToken));
        }
        return fail(400, 'bad_request', `Unsupported grant_type ${JSON.stringify(grantType ?? null)}.`, { error: 'unsupported_grant_type' });
      }

      return fail(404, 'not_found', 'Not found.');
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8', 'RateLimit-Remaining': String(rateLimitRemaining) });
        res.end(JSON.stringify({ id: 'internal_server_error', message: `fake Heroku failed: ${(error as Error).message}` }));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl,
    idUrl: `${apiUrl}/id`,
    calls,
    webhooks: (app) => webhookList.filter((w) => app === undefined || w.app === app).map((w) => ({ ...w, include: [...w.include] })),
    dynos: (app) => dynoList.filter((d) => app === undefined || d.app === app).map(dynoView),
    logDrains: (app) => drainList.filter((d) => app === undefined || d.app === app).map((d) => ({ ...d })),
    addRelease: (app, release) => ({ ...addRelease(app, release) }),
    releases: (app) => releaseList.filter((r) => r.app === app).map((r) => ({ ...r })),
    setFormation(app, quantities) {
      formations.set(app, { ...quantities });
    },
    restarts: (app) => restartList.filter((r) => app === undefined || r.app === app).map((r) => ({ ...r })),
    deliverWebhooks(target) {
      webhookTarget = target;
    },
    async announceRelease(release) {
      const kept = releaseList.find((r) => r.id === release.id);
      if (kept) await deliver(kept.app, 'api:release', 'create', releaseJson(kept));
    },
    addToken(token, access) {
      apiTokens.set(token, { apps: new Set(access.apps), forbidden: new Set(access.forbidden ?? []) });
    },
    failNext(match, count, fault) {
      if (count > 0) faults.push({ ...match, remaining: count, fault });
    },
    setRateLimitRemaining(n) {
      rateLimitRemaining = n;
    },
    oauth: {
      clientId: oauthClientId,
      clientSecret: oauthClientSecret,
      userId,
      setAccessTokenTtl(seconds) {
        accessTokenTtl = seconds;
      },
      setAccountApps(apps) {
        accountApps = new Set(apps);
      },
      revoke(refreshToken) {
        for (const [token, record] of refreshTokens) if (refreshToken === undefined || token === refreshToken) record.revoked = true;
      },
      issued: () => issuedList.map((i) => ({ ...i, revoked: refreshTokens.get(i.refreshToken)?.revoked ?? false })),
    },
    rendezvous,
    reset() {
      calls.length = 0;
      webhookList = [];
      drainList = [];
      dynoList = [];
      releaseList = [];
      restartList = [];
      formations.clear();
      faults = [];
    },
    async close() {
      await rendezvous.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
