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

/** About how many frames start at or after `from` (each has a ` <`): what a body left unread held. */
function countHeaders(text: string, from: number): number {
  let count = 0;
  for (let at = text.indexOf(' <', from); at !== -1; at = text.indexOf(' <', at + 2)) count += 1;
  return count;
}

/** Where a frame starts: `<digits> <PRI>1 ` (the count, a space, the priority and version 1). */
const FRAME_HEADER = /(\d{1,7}) <(\d{1,3})>1 /y;

/**
 * Reads every frame of a drain body. `maxFrames` bounds the work for one body: frames read and
 * frames skipped together (Logplex sends a few hundred at most; a body of 1 MiB holds at most
 * ~20,000 frames of any use). The work is linear in the body's length.
 */
export function parseLogplexBody(body: Buffer | string, options: { maxFrames?: number } = {}): ParsedBody {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  // Latin-1 keeps one character per byte, so counts (bytes) and offsets (characters) agree;
  // each message is decoded as UTF-8 from its own bytes.
  const text = bytes.toString('latin1');
  const frames: LogplexFrame[] = [];
  const { skipped, dropped } = walkFrames(text, options.maxFrames ?? MAX_FRAMES, (start, end) => {
    const frame = readFrame(bytes, text, start, end);
    if (frame !== null) frames.push(frame);
    return frame !== null;
  });
  return { frames, skipped, dropped };
}

export const MAX_FRAMES = 10_000;

/**
 * Finds the frames of a body's Latin-1 text and calls `read` with each frame's bounds (after its
 * count); `read` says whether the frame could be read. Returns how many could not (`skipped`) and
 * how many were left unread past `maxFrames` (`dropped`). The one place frame boundaries are
 * decided: `parseLogplexBody` and the ingress' counting (`countDrainBody`) walk bodies alike.
 */
export function walkFrames(text: string, maxFrames: number, read: (start: number, end: number) => boolean): { read: number; skipped: number; dropped: number } {
  let done = 0;
  let skipped = 0;
  let dropped = 0;
  let at = skipBlanks(text, 0);
  while (at < text.length) {
    FRAME_HEADER.lastIndex = at;
    const header = FRAME_HEADER.exec(text);
    if (header === null) {
      // Not a frame here: skip to the next header, if any.
      const next = findHeader(text, at + 1);
      skipped += 1;
      if (next === -1) break;
      at = next;
      if (done + skipped >= maxFrames) {
        dropped = countHeaders(text, at);
        break;
      }
      continue;
    }
    const count = Number(header[1]);
    const start = at + header[1]!.length + 1;
    let end = start + count;
    if (!(end <= text.length && fitsBoundary(text, end))) {
      // The count does not land on a frame boundary: the frame ends where the next one starts.
      const next = findHeader(text, start + 1);
      end = next === -1 ? text.length : next;
    }
    if (read(start, end)) done += 1;
    else skipped += 1;
    at = skipBlanks(text, end);
    if (done + skipped >= maxFrames && at < text.length) {
      // The rest is left unread; its frames are counted by their headers.
      dropped = countHeaders(text, at);
      break;
    }
  }
  return { read: done, skipped, dropped };
}

/**
 * Where the fields of the frame between `start` and `end` are in the text: the end of its
 * priority and version, the five header fields' bounds, and where its message starts and ends
 * (without trailing newlines); null when it is no `<PRI>1 TIMESTAMP HOST APP PROCID MSGID MSG`.
 */
export interface FrameBounds {
  priority: number;
  /** [start, end) of TIMESTAMP, HOST, APP, PROCID, MSGID. */
  fields: [number, number][];
  messageStart: number;
  messageEnd: number;
}

/** Where `<PRI>` ends (its `>`) when the frame starts with `<PRI>1 ` and PRI is 0 to 191, else -1. */
function priorityEnd(text: string, start: number): number {
  if (text.charCodeAt(start) !== 60 /* < */) return -1;
  const close = text.indexOf('>', start + 1);
  if (close === -1 || close > start + 4 || close === start + 1) return -1;
  let priority = 0;
  for (let i = start + 1; i < close; i += 1) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    priority = priority * 10 + (c - 48);
  }
  return priority > 191 || text.charCodeAt(close + 1) !== 49 /* 1 */ || text.charCodeAt(close + 2) !== 32 ? -1 : close;
}

export function frameBounds(text: string, start: number, end: number): FrameBounds | null {
  const close = priorityEnd(text, start);
  if (close === -1) return null;
  const priority = Number(text.slice(start + 1, close));
  const fields: [number, number][] = [];
  let at = close + 3;
  for (let index = 0; index < 5; index += 1) {
    const space = text.indexOf(' ', at);
    const stop = space === -1 || space >= end ? end : space;
    // A field is one or more characters that are not white space.
    if (stop === at) return null;
    for (let i = at; i < stop; i += 1) if (text.charCodeAt(i) <= 32) return null;
    fields.push([at, stop]);
    at = stop + 1;
  }
  let messageEnd = end;
  while (messageEnd > at && (text.charCodeAt(messageEnd - 1) === 10 || text.charCodeAt(messageEnd - 1) === 13)) messageEnd -= 1;
  return { priority, fields, messageStart: Math.min(at, messageEnd), messageEnd };
}

/** Line ends allowed between a frame's end and the next header (more is not a boundary). */
const MAX_GAP = 4;

/**
 * Whether a frame ending at `end` ends where a frame can: at the end of the body, at the start
 * of the next frame (after at most MAX_GAP line ends), or at a newline (what follows is then read
 * as whatever it is). Bounded work: it is asked for every count, and a body can hold many.
 */
function fitsBoundary(text: string, end: number): boolean {
  if (end > text.length) return false;
  if (text[end - 1] === '\n' || text[end] === '\n') return true;
  let next = end;
  while (next < text.length && next < end + MAX_GAP && (text[next] === '\n' || text[next] === '\r')) next += 1;
  if (next >= text.length) return true;
  FRAME_HEADER.lastIndex = next;
  return FRAME_HEADER.test(text);
}

function skipBlanks(text: string, at: number): number {
  let i = at;
  while (i < text.length && (text[i] === '\n' || text[i] === '\r')) i += 1;
  return i;
}

/**
 * The position of the next frame header at or after `from`, or -1. A message that ends in digits
 * runs into the next frame's count (`status=20047 <158>1 ...`): of the ways to split the digits,
 * the one whose count lands on a frame boundary is taken, else the whole run.
 */
function findHeader(text: string, from: number): number {
  // Found by the ` <` every header has (a native search), then checked where its digits start:
  // linear in the text, whatever the body holds.
  for (let search = from; ; ) {
    const space = text.indexOf(' <', search);
    if (space === -1) return -1;
    search = space + 1;
    let start = space;
    while (start > from && space - start <= 7 && isDigit(text.charCodeAt(start - 1))) start -= 1;
    // A count has 1 to 7 digits and starts the header: none before `from`, no digit before it.
    if (start === space || space - start > 7 || (start > 0 && isDigit(text.charCodeAt(start - 1)))) continue;
    FRAME_HEADER.lastIndex = start;
    if (!FRAME_HEADER.test(text)) continue;
    const digits = text.slice(start, space);
    for (let split = 0; split < digits.length; split += 1) {
      // Counts are written without leading zeros.
      if (digits[split] === '0' && split < digits.length - 1) continue;
      if (fitsBoundary(text, space + 1 + Number(digits.slice(split)))) return start + split;
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
 * message end without trailing newlines]. False when the frame has no `<PRI>1 ` and five
 * non-empty space-separated header fields without a line end. Laxer than `frameBounds` about
 * other white space in a header field (a tab, a carriage return): a field the counting compares
 * must equal a plain word anyway.
 */
export function leanFrameBounds(text: string, start: number, end: number, out: Int32Array): boolean {
  const close = priorityEnd(text, start);
  if (close === -1) return false;
  let at = close + 3;
  for (let index = 0; index < 5; index += 1) {
    const space = text.indexOf(' ', at);
    const stop = space === -1 || space >= end ? end : space;
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
  // A header broken by a line end is no header (a native search within the header alone).
  if (text.slice(close + 3, at - 1).includes('\n')) return false;
  let messageEnd = end;
  while (messageEnd > at && (text.charCodeAt(messageEnd - 1) === 10 || text.charCodeAt(messageEnd - 1) === 13)) messageEnd -= 1;
  out[4] = Math.min(at, messageEnd);
  out[5] = messageEnd;
  return true;
}


/**
 * `<PRI>1 TIMESTAMP HOST APP PROCID MSGID MSG` (Heroku writes no STRUCTURED-DATA) between `start`
 * and `end`, or null. The header is read from the Latin-1 text (its fields are ASCII; any other
 * byte stays one character), the message decoded as UTF-8 from its bytes, without its trailing
 * newlines.
 */
function readFrame(bytes: Buffer, text: string, start: number, end: number): LogplexFrame | null {
  const bounds = frameBounds(text, start, end);
  if (bounds === null) return null;
  const [timestamp, hostname, appName, procId, msgId] = bounds.fields.map(([from, to]) => text.slice(from, to)) as [string, string, string, string, string];
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
