import { leanFrameBounds, MAX_FRAMES, walkFrames } from './logplex.js';
import { CRASHED, HTTP_5XX, isRouterCode, isRuntimeCode, REQUESTS } from './signals.js';
import { bucketField } from './windows.js';

export interface BodyCounts {
  /** Frames read. */
  lines: number;
  skipped: number;
  dropped: number;
  /** `<process type> <signal>` to its count, as a minute bucket takes it. */
  fields: Map<string, number>;
  /** Whether any signal is an error (a code, a crash, a 5xx). */
  alarming: boolean;
}

const ascii = (word: string) => Buffer.from(word, 'latin1');
const HEROKU = ascii('heroku');
const ROUTER = ascii('router');
const AT_ERROR_CODE = ascii('at=error code=');
const STATUS = ascii(' status=');
const DYNO = ascii(' dyno=');
const ERROR_R = ascii('Error R');
/** A crash, as the runtime writes it. The state word is short, so 64 bytes always hold the whole match. */
const CRASH = /^State changed from \w{1,32} to crashed\b/;

/** Frame bounds written by `leanFrameBounds`: one array, since a body is counted in one go. */
const at = new Int32Array(6);
/** Where a router line's status and dyno are, written by `findStatusAndDyno`. */
const found = new Int32Array(2);

/**
 * What a drain body adds to its app's minute: its frames (`walkFrames`, as `parseLogplexBody`
 * finds them) and the signals of the platform's lines, read from the body's bytes: no frame
 * objects, no message decoded, no copy of the body, and a string only for what a signal is
 * named by (a process type, a code). The ingress' hot path. Every field a signal comes from is
 * ASCII, so reading bytes reads what a Latin-1 or UTF-8 reading of the line would.
 *
 * - A router line (`heroku router`) counts a request and its 5xx when it has a status, and its
 *   code when it is `at=error code=Hxx`, for the process type of its `dyno=` (web when empty).
 * - A runtime line (`heroku <dyno>`) counts `Error Rxx (` and `State changed from ... to crashed`
 *   for the dyno's process type.
 *
 * drains.test.ts holds it to a plain reading of each parsed frame.
 */
export function countDrainBody(bytes: Buffer, maxFrames = MAX_FRAMES): BodyCounts {
  // process type -> signal -> count: a line costs two lookups, no new string for its field.
  const counts = new Map<string, Map<string, number>>();
  let alarming = false;
  const add = (processType: string, signal: string) => {
    let perSignal = counts.get(processType);
    if (perSignal === undefined) counts.set(processType, (perSignal = new Map()));
    perSignal.set(signal, (perSignal.get(signal) ?? 0) + 1);
  };
  // The process type last named: most lines of a body name the same one.
  let lastType = 'web';
  const processType = (start: number, end: number): string => {
    const typeEnd = processTypeEnd(bytes, start, end);
    if (typeEnd - start === lastType.length) {
      let same = true;
      for (let i = 0; same && i < lastType.length; i += 1) same = bytes[start + i] === lastType.charCodeAt(i);
      if (same) return lastType;
    }
    lastType = bytes.toString('latin1', start, typeEnd);
    return lastType;
  };
  const walked = walkFrames(bytes, maxFrames, (start, end) => {
    if (!leanFrameBounds(bytes, start, end, at)) return false;
    const procStart = at[2]!;
    const procEnd = at[3]!;
    const messageStart = at[4]!;
    const messageEnd = at[5]!;
    // Only the platform's lines (APP-NAME `heroku`) make signals.
    if (!isWord(bytes, at[0]!, at[1]!, HEROKU)) return true;
    if (isWord(bytes, procStart, procEnd, ROUTER)) {
      findStatusAndDyno(bytes, messageStart, messageEnd, found);
      const statusAt = found[0]!;
      const dynoAt = found[1]!;
      const status = statusAt === -1 ? -1 : statusValue(bytes, statusAt + STATUS.length, messageEnd);
      const dynoEnd = dynoAt === -1 ? -1 : valueEnd(bytes, dynoAt + DYNO.length, messageEnd);
      const type = dynoAt === -1 || dynoEnd === dynoAt + DYNO.length ? 'web' : processType(dynoAt + DYNO.length, dynoEnd);
      if (status !== -1) {
        add(type, REQUESTS);
        if (status >= 500) {
          add(type, HTTP_5XX);
          alarming = true;
        }
      }
      if (startsWith(bytes, messageStart, messageEnd, AT_ERROR_CODE)) {
        const codeStart = messageStart + AT_ERROR_CODE.length;
        const codeEnd = valueEnd(bytes, codeStart, messageEnd);
        // Codes are three characters: a longer value is none of them.
        const code = codeEnd - codeStart === 3 ? bytes.toString('latin1', codeStart, codeEnd) : '';
        if (isRouterCode(code)) {
          add(type, code);
          alarming = true;
        }
      }
      return true;
    }
    const first = bytes[messageStart];
    if (first === 69 /* E */ && startsWith(bytes, messageStart, messageEnd, ERROR_R) && bytes[messageStart + 9] === 32 && bytes[messageStart + 10] === 40 /* ( */ && messageStart + 10 < messageEnd) {
      const code = bytes.toString('latin1', messageStart + 6, messageStart + 9);
      if (isRuntimeCode(code)) {
        add(processType(procStart, procEnd), code);
        alarming = true;
      }
    } else if (first === 83 /* S */ && CRASH.test(bytes.toString('latin1', messageStart, Math.min(messageEnd, messageStart + 64)))) {
      add(processType(procStart, procEnd), CRASHED);
      alarming = true;
    }
    return true;
  });
  const fields = new Map<string, number>();
  for (const [type, perSignal] of counts) {
    for (const [signal, count] of perSignal) {
      const field = bucketField(type, signal);
      fields.set(field, (fields.get(field) ?? 0) + count);
    }
  }
  return { lines: walked.read, skipped: walked.skipped, dropped: walked.dropped, fields, alarming };
}

/**
 * Where the process type of the dyno name between `start` and `end` ends: `web.1` is `web`,
 * `run.1234` is `run`; a name without a number after its last dot is itself.
 */
function processTypeEnd(bytes: Buffer, start: number, end: number): number {
  let dot = end - 1;
  while (dot > start && bytes[dot] !== 46 /* . */) dot -= 1;
  if (dot <= start || dot === end - 1) return end;
  for (let i = dot + 1; i < end; i += 1) if (bytes[i]! < 48 || bytes[i]! > 57) return end;
  return dot;
}

/** Whether the bytes between `start` and `end` are `word`. */
function isWord(bytes: Buffer, start: number, end: number, word: Buffer): boolean {
  return end - start === word.length && startsWith(bytes, start, end, word);
}

function startsWith(bytes: Buffer, start: number, end: number, word: Buffer): boolean {
  if (end - start < word.length) return false;
  for (let i = 0; i < word.length; i += 1) if (bytes[start + i] !== word[i]) return false;
  return true;
}

/**
 * Where a router line's ` status=` and ` dyno=` are, into `out` (-1 when absent): the last
 * ` status=`, and the last ` dyno=` before it (or the last of the line when it has no status).
 * The router writes `dyno=` before `status=`, near the end of the line, and a request's path,
 * which may hold either word, before both. One pass backwards from the end of the line, looking
 * at each `=`: bounded by the line, and short for the router's own lines.
 */
function findStatusAndDyno(bytes: Buffer, start: number, end: number, out: Int32Array): void {
  let statusAt = -1;
  let lastDyno = -1;
  for (let p = end - 1; p >= start; p -= 1) {
    if (bytes[p] !== 61 /* = */) continue;
    if (statusAt === -1 && p - STATUS.length + 1 >= start && startsWith(bytes, p - STATUS.length + 1, end, STATUS)) {
      statusAt = p - STATUS.length + 1;
      p = statusAt;
    } else if (p - DYNO.length + 1 >= start && startsWith(bytes, p - DYNO.length + 1, end, DYNO)) {
      if (statusAt !== -1) {
        out[0] = statusAt;
        out[1] = p - DYNO.length + 1;
        return;
      }
      if (lastDyno === -1) lastDyno = p - DYNO.length + 1;
    }
  }
  out[0] = statusAt;
  out[1] = statusAt === -1 ? lastDyno : -1;
}

/** The end of the unquoted value starting at `from`: the next space, or `end`. */
function valueEnd(bytes: Buffer, from: number, end: number): number {
  let i = from;
  while (i < end && bytes[i] !== 32) i += 1;
  return i;
}

/** An HTTP status (three digits, 100 to 599) as the value starting at `from`, else -1. */
function statusValue(bytes: Buffer, from: number, end: number): number {
  if (valueEnd(bytes, from, end) !== from + 3) return -1;
  let value = 0;
  for (let i = from; i < from + 3; i += 1) {
    const c = bytes[i]!;
    if (c < 48 || c > 57) return -1;
    value = value * 10 + (c - 48);
  }
  return value >= 100 && value <= 599 ? value : -1;
}
