/**
 * Heroku log drain bodies (`Content-Type: application/logplex-1`): octet-counted syslog frames
 * (RFC 6587 framing of RFC 5424 messages without STRUCTURED-DATA), `<count> <PRI>1 TIMESTAMP
 * HOST APP PROCID MSGID MSG`, one after another.
 *
 * Strict about bounds, tolerant about counts: published bodies carry counts that include or
 * omit the trailing newline, and counts that do not match their text at all. A frame whose count
 * does not land on the end of the body or on the next frame's header ends instead at the next
 * header found in the body (or at the end of the body). Nothing is read past the body, a count
 * that lies can neither crash nor hang the parser, and the number of frames is bounded.
 */

export interface LogplexFrame {
  /** Syslog priority (facility * 8 + severity). */
  priority: number;
  /** RFC 3339 time as written (Heroku's clock, not ours). */
  timestamp: string;
  hostname: string;
  /** `app` for the app's own processes, `heroku` for the platform (router, runtime). */
  appName: string;
  /** The process: `web.1`, `router`, `worker.2`, `api`, `scheduler.1234`. */
  procId: string;
  msgId: string;
  /** The log line itself, without the trailing newline. */
  message: string;
}

export interface ParsedBody {
  frames: LogplexFrame[];
  /** Frames that could not be read (no header where one was due, or a malformed header). */
  skipped: number;
  /** Frames left unread because the body held more than `maxFrames` frames (read or skipped). */
  dropped: number;
}

/** ` <`, which every frame header has: found by a native search. */
const SPACE_LT = Buffer.from(' <', 'latin1');

/** About how many frames start at or after `from` (each has a ` <`): what a body left unread held. */
function countHeaders(bytes: Buffer, from: number): number {
  let count = 0;
  for (let at = bytes.indexOf(SPACE_LT, from); at !== -1; at = bytes.indexOf(SPACE_LT, at + 2)) count += 1;
  return count;
}

/**
 * Whether a frame header starts at `at`: `<count> <PRI>1 ` with a count of 1 to 7 digits and a
 * priority of 1 to 3. Returns the number of the count's digits, or 0 when there is no header.
 */
function headerAt(bytes: Buffer, at: number): number {
  let i = at;
  while (i < bytes.length && i - at < 8 && isDigit(bytes[i]!)) i += 1;
  const digits = i - at;
  if (digits === 0 || digits > 7 || bytes[i] !== 32 || bytes[i + 1] !== 60 /* < */) return 0;
  const priority = i + 2;
  let j = priority;
  while (j < bytes.length && j - priority < 4 && isDigit(bytes[j]!)) j += 1;
  if (j === priority || j - priority > 3 || bytes[j] !== 62 /* > */ || bytes[j + 1] !== 49 /* 1 */ || bytes[j + 2] !== 32) return 0;
  return digits;
}

/** The decimal number written in ASCII digits from `start` to `end` (at most 7 of them). */
function numberAt(bytes: Buffer, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i += 1) value = value * 10 + (bytes[i]! - 48);
  return value;
}

/**
 * Reads every frame of a drain body. `maxFrames` bounds the work for one body: frames read and
 * frames skipped together (Logplex sends a few hundred at most; a body of 1 MiB holds at most
 * ~20,000 frames of any use). The work is linear in the body's length.
 */
export function parseLogplexBody(body: Buffer | string, options: { maxFrames?: number } = {}): ParsedBody {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const frames: LogplexFrame[] = [];
  const { skipped, dropped } = walkFrames(bytes, options.maxFrames ?? MAX_FRAMES, (start, end) => {
    const frame = readFrame(bytes, start, end);
    if (frame !== null) frames.push(frame);
    return frame !== null;
  });
  return { frames, skipped, dropped };
}

export const MAX_FRAMES = 10_000;

/**
 * Finds the frames of a body and calls `read` with each frame's bounds (after its count, in
 * bytes); `read` says whether the frame could be read. Returns how many could not (`skipped`) and
 * how many were left unread past `maxFrames` (`dropped`). The one place frame boundaries are
 * decided: `parseLogplexBody` and the ingress' counting (`countDrainBody`) walk bodies alike.
 * It reads the bytes themselves: counts are in bytes, and every byte a header is made of is ASCII.
 */
export function walkFrames(bytes: Buffer, maxFrames: number, read: (start: number, end: number) => boolean): { read: number; skipped: number; dropped: number } {
  let done = 0;
  let skipped = 0;
  let dropped = 0;
  let at = skipBlanks(bytes, 0);
  while (at < bytes.length) {
    const digits = headerAt(bytes, at);
    if (digits === 0) {
      // Not a frame here: skip to the next header, if any.
      const next = findHeader(bytes, at + 1);
      skipped += 1;
      if (next === -1) break;
      at = next;
      if (done + skipped >= maxFrames) {
        dropped = countHeaders(bytes, at);
        break;
      }
      continue;
    }
    const start = at + digits + 1;
    let end = start + numberAt(bytes, at, at + digits);
    if (!(end <= bytes.length && fitsBoundary(bytes, end))) {
      // The count does not land on a frame boundary: the frame ends where the next one starts.
      const next = findHeader(bytes, start + 1);
      end = next === -1 ? bytes.length : next;
    }
    if (read(start, end)) done += 1;
    else skipped += 1;
    at = skipBlanks(bytes, end);
    if (done + skipped >= maxFrames && at < bytes.length) {
      // The rest is left unread; its frames are counted by their headers.
      dropped = countHeaders(bytes, at);
      break;
    }
  }
  return { read: done, skipped, dropped };
}

/**
 * Where the fields of the frame between `start` and `end` are: the end of its priority and
 * version, the five header fields' bounds, and where its message starts and ends (without
 * trailing newlines); null when it is no `<PRI>1 TIMESTAMP HOST APP PROCID MSGID MSG`.
 */
export interface FrameBounds {
  priority: number;
  /** [start, end) of TIMESTAMP, HOST, APP, PROCID, MSGID. */
  fields: [number, number][];
  messageStart: number;
  messageEnd: number;
}

/** Where `<PRI>` ends (its `>`) when the frame starts with `<PRI>1 ` and PRI is 0 to 191, else -1. */
function priorityEnd(bytes: Buffer, start: number): number {
  if (bytes[start] !== 60 /* < */) return -1;
  let priority = 0;
  let close = start + 1;
  while (close < bytes.length && close <= start + 4 && isDigit(bytes[close]!)) {
    priority = priority * 10 + (bytes[close]! - 48);
    close += 1;
  }
  if (close === start + 1 || close > start + 4 || bytes[close] !== 62 /* > */) return -1;
  return priority > 191 || bytes[close + 1] !== 49 /* 1 */ || bytes[close + 2] !== 32 ? -1 : close;
}

/** The end of the header field starting at `at`: the next space, or `end`. */
function fieldEnd(bytes: Buffer, at: number, end: number): number {
  let i = at;
  while (i < end && bytes[i] !== 32) i += 1;
  return i;
}

/** `end` less the line ends that close the frame, down to `start` at most. */
function trimLineEnds(bytes: Buffer, start: number, end: number): number {
  let messageEnd = end;
  while (messageEnd > start && (bytes[messageEnd - 1] === 10 || bytes[messageEnd - 1] === 13)) messageEnd -= 1;
  return messageEnd;
}

export function frameBounds(bytes: Buffer, start: number, end: number): FrameBounds | null {
  const close = priorityEnd(bytes, start);
  if (close === -1) return null;
  const priority = numberAt(bytes, start + 1, close);
  const fields: [number, number][] = [];
  let at = close + 3;
  for (let index = 0; index < 5; index += 1) {
    const stop = fieldEnd(bytes, at, end);
    // A field is one or more characters that are not white space.
    if (stop === at) return null;
    for (let i = at; i < stop; i += 1) if (bytes[i]! <= 32) return null;
    fields.push([at, stop]);
    at = stop + 1;
  }
  const messageEnd = trimLineEnds(bytes, at, end);
  return { priority, fields, messageStart: Math.min(at, messageEnd), messageEnd };
}

/** Line ends allowed between a frame's end and the next header (more is not a boundary). */
const MAX_GAP = 4;

/**
 * Whether a frame ending at `end` ends where a frame can: at the end of the body, at the start
 * of the next frame (after at most MAX_GAP line ends), or at a newline (what follows is then read
 * as whatever it is). Bounded work: it is asked for every count, and a body can hold many.
 */
function fitsBoundary(bytes: Buffer, end: number): boolean {
  if (end > bytes.length) return false;
  if (bytes[end - 1] === 10 || bytes[end] === 10) return true;
  let next = end;
  while (next < bytes.length && next < end + MAX_GAP && (bytes[next] === 10 || bytes[next] === 13)) next += 1;
  if (next >= bytes.length) return true;
  return headerAt(bytes, next) > 0;
}

function skipBlanks(bytes: Buffer, at: number): number {
  let i = at;
  while (i < bytes.length && (bytes[i] === 10 || bytes[i] === 13)) i += 1;
  return i;
}

/**
 * The position of the next frame header at or after `from`, or -1. A message that ends in digits
 * runs into the next frame's count (`status=20047 <158>1 ...`): of the ways to split the digits,
 * the one whose count lands on a frame boundary is taken, else the whole run.
 */
function findHeader(bytes: Buffer, from: number): number {
  // Found by the ` <` every header has (a native search), then checked where its digits start:
  // linear in the body, whatever it holds.
  for (let search = from; ; ) {
    const space = bytes.indexOf(SPACE_LT, search);
    if (space === -1) return -1;
    search = space + 1;
    let start = space;
    while (start > from && space - start <= 7 && isDigit(bytes[start - 1]!)) start -= 1;
    // A count has 1 to 7 digits and starts the header: none before `from`, no digit before it.
    if (start === space || space - start > 7 || (start > 0 && isDigit(bytes[start - 1]!))) continue;
    if (headerAt(bytes, start) === 0) continue;
    for (let split = start; split < space; split += 1) {
      // Counts are written without leading zeros.
      if (bytes[split] === 48 /* 0 */ && split < space - 1) continue;
      if (fitsBoundary(bytes, space + 1 + numberAt(bytes, split, space))) return split;
    }
    return start;
  }
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * The bounds the ingress' counting needs of the frame between `start` and `end`, written into
 * `out` (no allocation per frame): [APP start, APP end, PROCID start, PROCID end, message start,
 * message end without trailing newlines]. False when `frameBounds` would find no frame.
 */
export function leanFrameBounds(bytes: Buffer, start: number, end: number, out: Int32Array): boolean {
  const close = priorityEnd(bytes, start);
  if (close === -1) return false;
  let at = close + 3;
  for (let index = 0; index < 5; index += 1) {
    const stop = fieldEnd(bytes, at, end);
    if (stop === at) return false;
    if (index === 2) {
      out[0] = at;
      out[1] = stop;
    } else if (index === 3) {
      out[2] = at;
      out[3] = stop;
    }
    at = stop + 1;
  }
  // A field is one or more characters that are not white space (the spaces between are read above).
  for (let i = close + 3; i < at - 1; i += 1) if (bytes[i]! < 32) return false;
  const messageEnd = trimLineEnds(bytes, at, end);
  out[4] = Math.min(at, messageEnd);
  out[5] = messageEnd;
  return true;
}

/**
 * `<PRI>1 TIMESTAMP HOST APP PROCID MSGID MSG` (Heroku writes no STRUCTURED-DATA) between `start`
 * and `end`, or null. The header fields are read as Latin-1 (they are ASCII; any other byte stays
 * one character), the message decoded as UTF-8, without its trailing newlines.
 */
function readFrame(bytes: Buffer, start: number, end: number): LogplexFrame | null {
  const bounds = frameBounds(bytes, start, end);
  if (bounds === null) return null;
  const [timestamp, hostname, appName, procId, msgId] = bounds.fields.map(([from, to]) => bytes.toString('latin1', from, to)) as [string, string, string, string, string];
  return {
    priority: bounds.priority,
    timestamp,
    hostname,
    appName,
    procId,
    msgId,
    message: bounds.messageStart >= bounds.messageEnd ? '' : bytes.toString('utf8', bounds.messageStart, bounds.messageEnd),
  };
}
