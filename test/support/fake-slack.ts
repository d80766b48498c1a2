import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A fake Slack Web API on a real local HTTP server, for tests that drive pulsebridge (or
 * `@slack/web-api` directly) against something that answers like Slack: bearer-token auth,
 * parameter checks against Slack's OpenAPI spec, Block Kit limits, threads, edits, history,
 * the external file upload flow, and injectable faults (429, HTTP errors, `ok:false`, for a
 * number of calls or until cleared; outages; answers that arrive late).
 */

export interface RecordedCall {
  method: string;
  params: Record<string, unknown>;
  /** Date.now() when the request arrived. */
  at: number;
  /** Date.now() when the answer was sent; unset until then. */
  answeredAt?: number;
  status: number;
  ok: boolean;
  /** The Slack error code; for HTTP faults and outages `http_<status>`. */
  error?: string;
}

export interface FakeMessage {
  /** Channel id. */
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[] | undefined;
  thread_ts?: string;
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** How many times chat.update changed it. */
  edits: number;
}

export interface FakeUpload {
  fileId: string;
  filename: string;
  /** The `length` announced to files.getUploadURLExternal. */
  length: number;
  title?: string;
  /** The file's bytes: the raw request body, or the file part of a multipart body. */
  bytes: Buffer;
  /** Whether the bytes were POSTed to the upload URL. */
  uploaded: boolean;
  /** Channel id given to files.completeUploadExternal. */
  channel?: string;
  threadTs?: string;
  initialComment?: string;
  completed: boolean;
}

export type Fault = { kind: 'rate_limited'; retryAfter: number } | { kind: 'http'; status: number } | { kind: 'error'; error: string };

export interface FakeSlack {
  /** e.g. 'http://127.0.0.1:PORT/api/' (trailing slash), for `slackApiUrl`. */
  apiUrl: string;
  /** e.g. 'http://127.0.0.1:PORT' (no trailing slash). */
  baseUrl: string;
  /** The bot token it accepts. */
  token: string;
  /** Every Web API request, in order, including refused and faulted ones (uploads to the upload URL are not calls). */
  calls: RecordedCall[];
  /** The recorded calls of one method. */
  callsOf(method: string): RecordedCall[];
  /** Messages per channel id (or name), in post order (thread replies included, with thread_ts); all channels when omitted. */
  messages(channel?: string): FakeMessage[];
  /** Channel id for a name like '#ops' or 'ops' (or the id itself). Throws for an unknown channel. */
  channelId(nameOrId: string): string;
  /** The next `count` calls of `method` (or of any method when method is '*') answer with the fault. */
  failNext(method: string, count: number, fault: Fault): void;
  /** While on, every call answers HTTP 503 (an outage). */
  setOutage(on: boolean): void;
  /**
   * Until cleared (fault undefined), every call of `method` (or of any method with '*') answers
   * with the fault, for faults that last a while rather than a number of calls. Faults queued by
   * failNext are answered first.
   */
  setFault(method: string, fault: Fault | undefined): void;
  /** Delay the HTTP answer of the next call of `method` (or '*') by `ms` AFTER its effect is applied (message stored), to simulate a client that dies mid-send. */
  delayNextResponse(method: string, ms: number): void;
  /** Files announced through files.getUploadURLExternal, in order. */
  uploads(): FakeUpload[];
  /** Ephemeral messages (chat.postEphemeral): seen by one user in a channel, never stored in it. */
  ephemerals(): { channel: string; user: string; text: string; blocks: unknown[] | undefined }[];
  /** Clear calls, messages, uploads, faults (queued and standing), delays and the outage (channels stay). */
  reset(): void;
  close(): Promise<void>;
}

export interface FakeSlackOptions {
  token?: string;
  /** name (without #) -> id */
  channels?: Record<string, string>;
  /** Names or ids where posting (and reading) answers not_in_channel. */
  notInChannel?: string[];
}

export const DEFAULT_FAKE_SLACK_TOKEN = 'xoxb-test-token';
export const DEFAULT_FAKE_SLACK_CHANNELS: Readonly<Record<string, string>> = Object.freeze({
  ops: 'C0OPS0001',
  alerts: 'C0ALERTS01',
  deploys: 'C0DEPLOY01',
  general: 'C0GENERAL1',
});

/**
 * Parameters pulsebridge sends that Slack added after the 2020 OpenAPI spec in
 * test/fixtures/slack was published; the spec check accepts them on these methods.
 */
export const PARAMETERS_NEWER_THAN_SPEC: Readonly<Record<string, readonly string[]>> = {
  'chat.postMessage': ['metadata'],
  'chat.update': ['metadata'],
  'conversations.history': ['include_all_metadata'],
  'conversations.replies': ['include_all_metadata'],
};

/** Block Kit and message limits Slack enforces. */
export const SLACK_LIMITS = {
  textChars: 40_000,
  blocks: 50,
  headerTextChars: 150,
  sectionTextChars: 3000,
  sectionFieldChars: 2000,
  sectionFields: 10,
} as const;

const SPEC_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/slack/web-api-openapi.json');

interface SpecMethod {
  allowed: Set<string>;
  required: string[];
}

let specMethods: Map<string, SpecMethod> | undefined;

/** Allowed and required parameters per method, from the OpenAPI spec (read once per process). */
function loadSpec(): Map<string, SpecMethod> {
  if (specMethods) return specMethods;
  type Param = { name?: unknown; in?: unknown; required?: unknown };
  const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as { paths: Record<string, Record<string, { parameters?: Param[] }>> };
  const methods = new Map<string, SpecMethod>();
  for (const [route, operations] of Object.entries(spec.paths)) {
    const operation = operations.post ?? operations.get;
    if (!operation) continue;
    const method = route.replace(/^\//, '');
    const params = (operation.parameters ?? []).filter(
      (p): p is Param & { name: string } => typeof p.name === 'string' && p.name !== 'token',
    );
    const allowed = new Set(params.map((p) => p.name));
    for (const extra of PARAMETERS_NEWER_THAN_SPEC[method] ?? []) allowed.add(extra);
    methods.set(method, { allowed, required: params.filter((p) => p.required === true).map((p) => p.name) });
  }
  specMethods = methods;
  return methods;
}

/** A Slack `ok:false` answer, thrown by the method handlers. */
class SlackFailure extends Error {
  constructor(
    readonly error: string,
    readonly messages?: string[],
  ) {
    super(error);
  }
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: string | Record<string, unknown>;
}

/** Fields Slack takes as JSON inside a form field, and the error when they do not parse. */
const JSON_FIELDS: Record<string, string> = { blocks: 'invalid_blocks', metadata: 'invalid_arguments', files: 'invalid_arguments' };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const isTrue = (value: unknown) => value === true || value === 'true' || value === '1' || value === 1;

function tsToMicros(ts: string): number {
  const [seconds = '', fraction = ''] = ts.split('.');
  return Number(seconds) * 1_000_000 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

function microsToTs(micros: number): string {
  return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface MultipartPart {
  name: string;
  filename?: string;
  data: Buffer;
}

function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundaryText = match?.[1] ?? match?.[2];
  if (boundaryText === undefined) return [];
  const boundary = Buffer.from(`--${boundaryText}`);
  const parts: MultipartPart[] = [];
  let position = body.indexOf(boundary);
  while (position !== -1) {
    const start = position + boundary.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(boundary, start);
    if (next === -1) break;
    const part = body.subarray(start + 2, next - 2); // without the CRLF after the boundary and before the next one
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
      const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
      parts.push({ name: /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? '', ...(filename !== undefined ? { filename } : {}), data: part.subarray(headerEnd + 4) });
    }
    position = next;
  }
  return parts;
}

/** Request parameters from the query string and a form, JSON or multipart body; JSON form fields decoded where they parse. */
function parseParams(req: http.IncomingMessage, url: URL, body: Buffer): { params: Record<string, unknown>; problem?: string } {
  const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
  const contentType = req.headers['content-type'] ?? '';
  const text = body.toString('utf8');
  if (/application\/json/i.test(contentType)) {
    if (text.trim() !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return { params, problem: 'invalid_json' };
      }
      if (!isObject(parsed)) return { params, problem: 'invalid_json' };
      Object.assign(params, parsed);
    }
  } else if (/multipart\/form-data/i.test(contentType)) {
    for (const part of parseMultipart(body, contentType)) params[part.name] = part.filename !== undefined ? part.data : part.data.toString('utf8');
  } else {
    Object.assign(params, Object.fromEntries(new URLSearchParams(text)));
  }
  let problem: string | undefined;
  for (const [field, error] of Object.entries(JSON_FIELDS)) {
    const value = params[field];
    if (typeof value !== 'string') continue;
    try {
      params[field] = JSON.parse(value);
    } catch {
      problem ??= error;
    }
  }
  return problem === undefined ? { params } : { params, problem };
}

/** Problems Slack would report for `blocks`, as `[ERROR] ... [json-pointer:...]` messages. */
function blockProblems(blocks: unknown): string[] {
  if (!Array.isArray(blocks)) return ['[ERROR] must be an array [json-pointer:/blocks]'];
  const problems: string[] = [];
  if (blocks.length > SLACK_LIMITS.blocks) problems.push(`[ERROR] no more than ${SLACK_LIMITS.blocks} items allowed [json-pointer:/blocks]`);
  blocks.forEach((block: unknown, i) => {
    const at = `/blocks/${i}`;
    if (!isObject(block) || typeof block.type !== 'string') {
      problems.push(`[ERROR] missing required field: type [json-pointer:${at}]`);
      return;
    }
    const textOf = (value: unknown) => (isObject(value) && typeof value.text === 'string' ? value.text : undefined);
    if (block.type === 'header') {
      const text = textOf(block.text);
      if (text === undefined) problems.push(`[ERROR] missing required field: text [json-pointer:${at}/text]`);
      else if (text.length > SLACK_LIMITS.headerTextChars)
        problems.push(`[ERROR] must be less than ${SLACK_LIMITS.headerTextChars + 1} characters [json-pointer:${at}/text/text]`);
    }
    if (block.type === 'section') {
      const text = textOf(block.text);
      if (text !== undefined && text.length > SLACK_LIMITS.sectionTextChars)
        problems.push(`[ERROR] must be less than ${SLACK_LIMITS.sectionTextChars + 1} characters [json-pointer:${at}/text/text]`);
      if (block.fields !== undefined) {
        if (!Array.isArray(block.fields)) problems.push(`[ERROR] must be an array [json-pointer:${at}/fields]`);
        else {
          if (block.fields.length > SLACK_LIMITS.sectionFields)
            problems.push(`[ERROR] no more than ${SLACK_LIMITS.sectionFields} items allowed [json-pointer:${at}/fields]`);
          block.fields.forEach((field: unknown, j) => {
            const fieldText = textOf(field);
            if (fieldText === undefined) problems.push(`[ERROR] missing required field: text [json-pointer:${at}/fields/${j}]`);
            else if (fieldText.length > SLACK_LIMITS.sectionFieldChars)
              problems.push(`[ERROR] must be less than ${SLACK_LIMITS.sectionFieldChars + 1} characters [json-pointer:${at}/fields/${j}/text]`);
          });
        }
      }
      if (text === undefined && block.fields === undefined) problems.push(`[ERROR] must provide either text or fields [json-pointer:${at}]`);
    }
  });
  return problems;
}

/** The checked text, blocks and metadata of a chat.postMessage / chat.update call (undefined when not given). */
function checkContent(params: Record<string, unknown>): {
  text: string | undefined;
  blocks: unknown[] | undefined;
  metadata: FakeMessage['metadata'];
} {
  const { text, blocks, metadata } = params;
  if (text !== undefined && typeof text !== 'string') throw new SlackFailure('invalid_arguments', ['[ERROR] must be a string [json-pointer:/text]']);
  if (blocks !== undefined) {
    const problems = blockProblems(blocks);
    if (problems.length > 0) throw new SlackFailure('invalid_blocks', problems);
  }
  const blockList = blocks as unknown[] | undefined;
  if ((text === undefined || text === '') && (blockList === undefined || blockList.length === 0)) throw new SlackFailure('no_text');
  if (text !== undefined && text.length > SLACK_LIMITS.textChars) throw new SlackFailure('msg_too_long');
  if (metadata !== undefined && !(isObject(metadata) && typeof metadata.event_type === 'string' && isObject(metadata.event_payload)))
    throw new SlackFailure('invalid_metadata');
  return { text, blocks: blockList, metadata: metadata as FakeMessage['metadata'] };
}

/** Starts the fake on 127.0.0.1 on a free port. */
export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const token = options.token ?? DEFAULT_FAKE_SLACK_TOKEN;
  const channels = new Map(Object.entries(options.channels ?? DEFAULT_FAKE_SLACK_CHANNELS));
  const channelIds = new Set(channels.values());
  const spec = loadSpec();

  const calls: RecordedCall[] = [];
  let stored: FakeMessage[] = [];
  const ephemerals: { channel: string; user: string; text: string; blocks: unknown[] | undefined }[] = [];
  let uploads: FakeUpload[] = [];
  let faults: { method: string; remaining: number; fault: Fault }[] = [];
  let delays: { method: string; ms: number }[] = [];
  const standing = new Map<string, Fault>();
  let outage = false;
  let lastMicros = 0;
  let fileCounter = 0;
  const timers = new Set<NodeJS.Timeout>();

  /** The channel id for '#name', 'name' or an id; undefined when unknown. */
  const lookup = (value: string): string | undefined => {
    if (channelIds.has(value)) return value;
    // A user id (as chat.postMessage takes it) is the bot's direct message channel with them.
    if (/^[UW][A-Z0-9]{2,}$/.test(value)) return `D${value.slice(1)}`;
    return channels.get(value.startsWith('#') ? value.slice(1) : value);
  };
  const notInChannel = new Set((options.notInChannel ?? []).map((c) => lookup(c) ?? c));

  const channelId = (nameOrId: string): string => {
    const id = lookup(nameOrId);
    if (id === undefined) throw new Error(`fake-slack: unknown channel ${nameOrId}`);
    return id;
  };

  /** A channel parameter of a call: known, and the bot is a member. */
  const memberChannel = (value: unknown): string => {
    const id = typeof value === 'string' ? lookup(value) : undefined;
    if (id === undefined) throw new SlackFailure('channel_not_found');
    if (notInChannel.has(id)) throw new SlackFailure('not_in_channel');
    return id;
  };

  const nextTs = () => {
    lastMicros = Math.max(Date.now() * 1000, lastMicros + 1);
    return microsToTs(lastMicros);
  };

  const topLevel = (channel: string, ts: unknown) =>
    typeof ts === 'string' ? stored.find((m) => m.channel === channel && m.ts === ts && m.thread_ts === undefined) : undefined;
  const repliesTo = (parent: FakeMessage) => stored.filter((m) => m.channel === parent.channel && m.thread_ts === parent.ts);

  const apiMessage = (m: FakeMessage, withMetadata: boolean) => {
    const out: Record<string, unknown> = { type: 'message', ts: m.ts, text: m.text };
    if (m.blocks !== undefined) out.blocks = m.blocks;
    if (m.thread_ts !== undefined) out.thread_ts = m.thread_ts;
    else {
      const replies = repliesTo(m).length;
      if (replies > 0) Object.assign(out, { thread_ts: m.ts, reply_count: replies });
    }
    if (m.edits > 0) out.edited = { user: 'U0FAKEBOT1', ts: m.ts };
    if (withMetadata && m.metadata !== undefined) out.metadata = m.metadata;
    return out;
  };

  const limitOf = (value: unknown) => {
    const n = Number(value);
    return Number.isInteger(n) && n > 0 ? Math.min(n, 1000) : 100;
  };

  /** One page of a list, as Slack's cursor pagination gives it: `more` is the offset of the next page. */
  const pageOf = <T,>(items: T[], params: Record<string, unknown>): { page: T[]; more: number | undefined } => {
    let start = 0;
    if (typeof params.cursor === 'string' && params.cursor !== '') {
      const decoded = /^offset:(\d+)$/.exec(Buffer.from(params.cursor, 'base64').toString('utf8'));
      if (decoded === null) throw new SlackFailure('invalid_cursor');
      start = Number(decoded[1]);
    }
    const end = start + limitOf(params.limit);
    return { page: items.slice(start, end), more: end < items.length ? end : undefined };
  };
  const nextCursor = (more: number | undefined) => ({ response_metadata: { next_cursor: more === undefined ? '' : Buffer.from(`offset:${more}`).toString('base64') } });

  const requireFields = (params: Record<string, unknown>, fields: string[]) => {
    const missing = fields.filter((f) => params[f] === undefined || params[f] === '');
    if (missing.length > 0) throw new SlackFailure('invalid_arguments', missing.map((f) => `[ERROR] missing required field: ${f}`));
  };

  const handlers: Record<string, (params: Record<string, unknown>) => Record<string, unknown>> = {
    'chat.postMessage'(params) {
      const channel = memberChannel(params.channel);
      const { text, blocks, metadata } = checkContent(params);
      const threadTs = params.thread_ts;
      if (threadTs !== undefined && threadTs !== '' && !topLevel(channel, threadTs)) throw new SlackFailure('thread_not_found');
      const message: FakeMessage = { channel, ts: nextTs(), text: text ?? '', blocks, edits: 0 };
      if (typeof threadTs === 'string' && threadTs !== '') message.thread_ts = threadTs;
      if (metadata !== undefined) message.metadata = metadata;
      stored.push(message);
      const answer: Record<string, unknown> = { type: 'message', text: message.text, ts: message.ts };
      if (blocks !== undefined) answer.blocks = blocks;
      if (message.thread_ts !== undefined) answer.thread_ts = message.thread_ts;
      if (metadata !== undefined) answer.metadata = metadata;
      return { ok: true, channel, ts: message.ts, message: answer };
    },
    'chat.postEphemeral'(params) {
      requireFields(params, ['user']);
      const channel = memberChannel(params.channel);
      const { text, blocks } = checkContent(params);
      ephemerals.push({ channel, user: String(params.user), text: text ?? '', blocks });
      return { ok: true, message_ts: nextTs() };
    },
    'chat.update'(params) {
      const channel = memberChannel(params.channel);
      const message = stored.find((m) => m.channel === channel && m.ts === params.ts);
      if (!message) throw new SlackFailure('message_not_found');
      const { text, blocks, metadata } = checkContent(params);
      if (text !== undefined) message.text = text;
      if (blocks !== undefined) message.blocks = blocks;
      if (metadata !== undefined) message.metadata = metadata;
      message.edits += 1;
      return { ok: true, channel, ts: message.ts, text: message.text, message: apiMessage(message, true) };
    },
    'conversations.history'(params) {
      const channel = memberChannel(params.channel);
      const withMetadata = isTrue(params.include_all_metadata);
      const inclusive = isTrue(params.inclusive);
      const oldest = typeof params.oldest === 'string' && params.oldest !== '' ? tsToMicros(params.oldest) : undefined;
      const latest = typeof params.latest === 'string' && params.latest !== '' ? tsToMicros(params.latest) : undefined;
      const inRange = (m: FakeMessage) => {
        const t = tsToMicros(m.ts);
        if (oldest !== undefined && (inclusive ? t < oldest : t <= oldest)) return false;
        if (latest !== undefined && (inclusive ? t > latest : t >= latest)) return false;
        return true;
      };
      const found = stored.filter((m) => m.channel === channel && m.thread_ts === undefined && inRange(m)).reverse();
      const { page, more } = pageOf(found, params);
      return { ok: true, messages: page.map((m) => apiMessage(m, withMetadata)), has_more: more !== undefined, ...(more === undefined ? {} : nextCursor(more)) };
    },
    'conversations.list'(params) {
      const types = typeof params.types === 'string' && params.types !== '' ? params.types.split(',') : ['public_channel'];
      // The fake's channels are public; its workspace has no private channels, DMs or archived ones.
      const listed = types.includes('public_channel') ? [...channels.entries()] : [];
      const { page, more } = pageOf(listed, params);
      const conversations = page.map(([name, id]) => ({
        id,
        name,
        name_normalized: name,
        is_channel: true,
        is_group: false,
        is_im: false,
        is_private: false,
        is_archived: false,
        is_member: !notInChannel.has(id),
        created: 1449252889,
      }));
      return { ok: true, channels: conversations, ...nextCursor(more) };
    },
    'conversations.replies'(params) {
      const channel = memberChannel(params.channel);
      requireFields(params, ['ts']);
      const parent = topLevel(channel, params.ts);
      if (!parent) throw new SlackFailure('thread_not_found');
      const withMetadata = isTrue(params.include_all_metadata);
      const thread = [parent, ...repliesTo(parent)];
      const limit = limitOf(params.limit);
      return { ok: true, messages: thread.slice(0, limit).map((m) => apiMessage(m, withMetadata)), has_more: thread.length > limit };
    },
    'files.getUploadURLExternal'(params) {
      requireFields(params, ['filename', 'length']);
      const length = Number(params.length);
      if (typeof params.filename !== 'string' || !Number.isInteger(length) || length < 0) throw new SlackFailure('invalid_arguments');
      fileCounter += 1;
      const fileId = `F0FAKE${String(fileCounter).padStart(5, '0')}`;
      uploads.push({ fileId, filename: params.filename, length, bytes: Buffer.alloc(0), uploaded: false, completed: false });
      return { ok: true, upload_url: `${fake.baseUrl}/upload/${fileId}`, file_id: fileId };
    },
    'files.completeUploadExternal'(params) {
      requireFields(params, ['files']);
      const files = params.files;
      if (!Array.isArray(files) || files.length === 0 || !files.every((f) => isObject(f) && typeof f.id === 'string'))
        throw new SlackFailure('invalid_arguments', ['[ERROR] files must be a non-empty array of {id, title}']);
      const entries = files as { id: string; title?: unknown }[];
      const targets = entries.map((f) => uploads.find((u) => u.fileId === f.id));
      if (targets.some((u) => u === undefined)) throw new SlackFailure('file_not_found');
      // `channel_id` is an id: Slack does not take a channel's name here.
      if (params.channel_id !== undefined && params.channel_id !== '' && !channelIds.has(String(params.channel_id))) throw new SlackFailure('channel_not_found');
      const channel = params.channel_id !== undefined && params.channel_id !== '' ? memberChannel(params.channel_id) : undefined;
      const threadTs = typeof params.thread_ts === 'string' && params.thread_ts !== '' ? params.thread_ts : undefined;
      if (threadTs !== undefined && (channel === undefined || !topLevel(channel, threadTs))) throw new SlackFailure('thread_not_found');
      const answer = entries.map((entry, i) => {
        const upload = targets[i] as FakeUpload;
        upload.title = typeof entry.title === 'string' ? entry.title : upload.filename;
        upload.completed = true;
        if (channel !== undefined) upload.channel = channel;
        if (threadTs !== undefined) upload.threadTs = threadTs;
        if (typeof params.initial_comment === 'string') upload.initialComment = params.initial_comment;
        return { id: upload.fileId, title: upload.title };
      });
      return { ok: true, files: answer };
    },
  };

  /** Auth, parameter checks and the method's effect; always HTTP 200. */
  const answer = (method: string, params: Record<string, unknown>, problem: string | undefined, authorization: string | undefined): Reply => {
    try {
      const bearer = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim();
      if (bearer === undefined || bearer === '') throw new SlackFailure('not_authed');
      if (bearer !== token) throw new SlackFailure('invalid_auth');
      const handler = handlers[method];
      if (!handler) throw new SlackFailure('unknown_method');
      if (problem !== undefined) throw new SlackFailure(problem);
      const specMethod = spec.get(method);
      if (specMethod) {
        const messages = [
          ...specMethod.required.filter((name) => params[name] === undefined).map((name) => `[ERROR] missing required field: ${name}`),
          ...Object.keys(params)
            .filter((name) => name !== 'token' && !specMethod.allowed.has(name))
            .map((name) => `[ERROR] unknown parameter: ${name}`),
        ];
        if (messages.length > 0) throw new SlackFailure('invalid_arguments', messages);
      }
      return { status: 200, body: handler(params) };
    } catch (error) {
      if (!(error instanceof SlackFailure)) throw error;
      const body: Record<string, unknown> = { ok: false, error: error.error };
      if (error.messages) body.response_metadata = { messages: error.messages };
      return { status: 200, body };
    }
  };

  const faultReply = (fault: Fault): Reply => {
    switch (fault.kind) {
      case 'rate_limited':
        return { status: 429, headers: { 'retry-after': String(fault.retryAfter) }, body: { ok: false, error: 'ratelimited' } };
      case 'http':
        return { status: fault.status, body: `fake-slack: HTTP ${fault.status}` };
      case 'error':
        return { status: 200, body: { ok: false, error: fault.error } };
    }
  };

  const takeFault = (method: string): Fault | undefined => {
    const entry = faults.find((f) => f.remaining > 0 && (f.method === '*' || f.method === method));
    if (!entry) return standing.get(method) ?? standing.get('*');
    entry.remaining -= 1;
    faults = faults.filter((f) => f.remaining > 0);
    return entry.fault;
  };

  const takeDelay = (method: string): number => {
    const index = delays.findIndex((d) => d.method === '*' || d.method === method);
    if (index === -1) return 0;
    const [entry] = delays.splice(index, 1);
    return entry?.ms ?? 0;
  };

  const send = (res: http.ServerResponse, reply: Reply, delayMs = 0) => {
    const write = () => {
      if (res.destroyed || res.writableEnded) return;
      const isJson = typeof reply.body !== 'string';
      const payload = isJson ? JSON.stringify(reply.body) : (reply.body as string);
      res.writeHead(reply.status, {
        'content-type': isJson ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
        ...reply.headers,
      });
      res.end(payload);
    };
    if (delayMs <= 0) return write();
    const timer = setTimeout(() => {
      timers.delete(timer);
      write();
    }, delayMs);
    timers.add(timer);
  };

  const handleUpload = (res: http.ServerResponse, req: http.IncomingMessage, fileId: string, body: Buffer) => {
    if (outage) return send(res, { status: 503, body: 'fake-slack: outage' });
    const upload = uploads.find((u) => u.fileId === fileId);
    if (!upload) return send(res, { status: 404, body: 'fake-slack: no such upload' });
    const contentType = req.headers['content-type'] ?? '';
    let bytes = body;
    if (/multipart\/form-data/i.test(contentType)) {
      const parts = parseMultipart(body, contentType);
      const part = parts.find((p) => p.filename !== undefined) ?? parts.find((p) => p.name === 'body' || p.name === 'file') ?? parts[0];
      if (part) bytes = Buffer.from(part.data);
    }
    upload.bytes = bytes;
    upload.uploaded = true;
    send(res, { status: 200, body: `OK - ${bytes.length}` });
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    const upload = /^\/upload\/([^/]+)$/.exec(url.pathname);
    if (upload && req.method === 'POST') return handleUpload(res, req, decodeURIComponent(upload[1] ?? ''), body);
    const route = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    if (!route) return send(res, { status: 404, body: 'fake-slack: not found' });
    if (req.method !== 'POST' && req.method !== 'GET') return send(res, { status: 405, body: 'fake-slack: method not allowed' });
    const method = route[1] ?? '';
    const { params, problem } = parseParams(req, url, body);
    const call: RecordedCall = { method, params, at, status: 0, ok: false };
    calls.push(call);
    res.once('finish', () => {
      call.answeredAt = Date.now();
    });
    let reply: Reply;
    if (outage) reply = { status: 503, body: 'fake-slack: outage' };
    else {
      const fault = takeFault(method);
      reply = fault ? faultReply(fault) : answer(method, params, problem, req.headers.authorization);
    }
    call.status = reply.status;
    if (typeof reply.body === 'string') {
      call.ok = false;
      call.error = `http_${reply.status}`;
    } else {
      call.ok = reply.body.ok === true;
      if (typeof reply.body.error === 'string') call.error = reply.body.error;
    }
    send(res, reply, takeDelay(method));
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, { status: 500, body: `fake-slack: ${error instanceof Error ? error.message : String(error)}` });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  const copy = <T>(value: T): T => structuredClone(value);

  const fake: FakeSlack = {
    apiUrl: `${baseUrl}/api/`,
    baseUrl,
    token,
    calls,
    callsOf: (method) => calls.filter((c) => c.method === method),
    messages(channel) {
      const id = channel === undefined ? undefined : channelId(channel);
      return stored.filter((m) => id === undefined || m.channel === id).map(copy);
    },
    channelId,
    failNext(method, count, fault) {
      if (count > 0) faults.push({ method, remaining: count, fault });
    },
    setOutage(on) {
      outage = on;
    },
    setFault(method, fault) {
      if (fault === undefined) standing.delete(method);
      else standing.set(method, fault);
    },
    delayNextResponse(method, ms) {
      delays.push({ method, ms });
    },
    uploads: () => uploads.map((u) => ({ ...u, bytes: Buffer.from(u.bytes) })),
    ephemerals: () => ephemerals.map((e) => ({ ...e })),
    reset() {
      calls.length = 0;
      stored = [];
      ephemerals.length = 0;
      uploads = [];
      faults = [];
      delays = [];
      standing.clear();
      outage = false;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
  return fake;
}
