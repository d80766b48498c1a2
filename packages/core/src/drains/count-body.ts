import { leanFrameBounds, MAX_FRAMES, walkFrames } from './logplex.js';
import { CRASHED, HTTP_5XX, isRouterCode, isRuntimeCode, processTypeOf, REQUESTS, routerFields } from './signals.js';
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

/**
 * What a drain body adds to its app's minute: its frames (`walkFrames`, as `parseLogplexBody`
 * finds them) and the signals of its router and runtime lines, read straight from the body's
 * Latin-1 text with no frame objects and no message decoded, since every field a signal comes
 * from is ASCII. The ingress' hot path. (A frame whose header field holds a tab is read here,
 * skipped by `parseLogplexBody`: it makes no signal either way.) drains.test.ts holds it to a
 * plain reading of each parsed frame.
 */
export function countDrainBody(bytes: Buffer, maxFrames = MAX_FRAMES): BodyCounts {
  const text = bytes.toString('latin1');
  // process type -> signal -> count: a line costs two lookups, no new string for its field.
  const counts = new Map<string, Map<string, number>>();
  let alarming = false;
  const add = (processType: string, signal: string) => {
    let perSignal = counts.get(processType);
    if (perSignal === undefined) counts.set(processType, (perSignal = new Map()));
    perSignal.set(signal, (perSignal.get(signal) ?? 0) + 1);
  };
  const at = new Int32Array(6);
  const walked = walkFrames(text, maxFrames, (start, end) => {
    if (!leanFrameBounds(text, start, end, at)) return false;
    const appStart = at[0]!;
    const procStart = at[2]!;
    const procEnd = at[3]!;
    const messageStart = at[4]!;
    const messageEnd = at[5]!;
    // Only the platform's lines (APP-NAME `heroku`) make signals.
    if (at[1]! - appStart !== 6 || !text.startsWith('heroku', appStart)) return true;
    if (procEnd - procStart === 6 && text.startsWith('router', procStart)) {
      const fields = routerFields(text.slice(messageStart, messageEnd));
      const processType = fields.dyno ? processTypeOf(fields.dyno) : 'web';
      if (fields.status !== null) {
        add(processType, REQUESTS);
        if (fields.status >= 500) {
          add(processType, HTTP_5XX);
          alarming = true;
        }
      }
      if (fields.code !== null && isRouterCode(fields.code)) {
        add(processType, fields.code);
        alarming = true;
      }
      return true;
    }
    const first = text.charCodeAt(messageStart);
    if (first === 69 /* E */ && text.startsWith('Error R', messageStart) && text.charCodeAt(messageStart + 9) === 32 && text.charCodeAt(messageStart + 10) === 40) {
      const code = text.slice(messageStart + 6, messageStart + 9);
      if (isRuntimeCode(code)) {
        add(processTypeOf(text.slice(procStart, procEnd)), code);
        alarming = true;
      }
    } else if (first === 83 /* S */ && /^State changed from \w+ to crashed\b/.test(text.slice(messageStart, Math.min(messageEnd, messageStart + 64)))) {
      add(processTypeOf(text.slice(procStart, procEnd)), CRASHED);
      alarming = true;
    }
    return true;
  });
  const fields = new Map<string, number>();
  for (const [processType, perSignal] of counts) {
    for (const [signal, count] of perSignal) {
      const field = bucketField(processType, signal);
      fields.set(field, (fields.get(field) ?? 0) + count);
    }
  }
  return { lines: walked.read, skipped: walked.skipped, dropped: walked.dropped, fields, alarming };
}

