import type { LogplexFrame } from './logplex.js';

/**
 * What a drain line tells about an app's health, as data: a router request and its status, a
 * router error code (H10, H12, ...), a runtime error code (R14, R15, ...) or a crash. Lines of
 * the app's own processes and everything else tell nothing here.
 */
export type DrainSignal =
  | { kind: 'request'; processType: string; status: number }
  | { kind: 'code'; processType: string; code: string };

export const ROUTER_CODES = ['H10', 'H11', 'H12', 'H13', 'H14', 'H15', 'H18', 'H19', 'H20', 'H27', 'H80', 'H99'] as const;
export const RUNTIME_CODES = ['R10', 'R12', 'R13', 'R14', 'R15', 'R16', 'R17', 'R99'] as const;
/** A dyno that went from up to crashed (its own signal: no error code names it). */
export const CRASHED = 'crashed';

/** The share of a process type's router answers that were 5xx (its own signal, a rate). */
export const HTTP_5XX = '5xx';
/** Router requests per process type: the denominator of the 5xx share. */
export const REQUESTS = 'req';

/** Every signal a drain rule can watch. */
export const DRAIN_SIGNALS = [...ROUTER_CODES, ...RUNTIME_CODES, CRASHED, HTTP_5XX] as const;
export type DrainSignalName = (typeof DRAIN_SIGNALS)[number];

/** What each signal means, as Heroku's Dev Center names it ("Error Codes"). */
export const SIGNAL_DESCRIPTIONS: Record<DrainSignalName, string> = {
  H10: 'App crashed',
  H11: 'Backlog too deep',
  H12: 'Request timeout',
  H13: 'Connection closed without response',
  H14: 'No web dynos running',
  H15: 'Idle connection',
  H18: 'Server request interrupted',
  H19: 'Backend connection timeout',
  H20: 'App boot timeout',
  H27: 'Client request interrupted',
  H80: 'Maintenance mode',
  H99: 'Platform error',
  R10: 'Boot timeout',
  R12: 'Exit timeout',
  R13: 'Attach error',
  R14: 'Memory quota exceeded',
  R15: 'Memory quota vastly exceeded',
  R16: 'Detached',
  R17: 'Checksum error',
  R99: 'Platform error',
  crashed: 'Dyno crashed',
  '5xx': 'Server errors (5xx answers)',
};

const ROUTER = new Set<string>(ROUTER_CODES);
const RUNTIME = new Set<string>(RUNTIME_CODES);

/** `key=value` and `key="quoted value"` pairs of a logfmt line (the router writes these). */
export function parseLogfmt(line: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  const pattern = /([A-Za-z0-9_#.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  for (let match = pattern.exec(line); match !== null; match = pattern.exec(line)) {
    const value = match[2]!;
    pairs[match[1]!] = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
  }
  return pairs;
}

/** `web.1` is `web`; `run.1234` is `run`; a name without a number is itself. */
export function processTypeOf(dyno: string): string {
  const dot = dyno.lastIndexOf('.');
  return dot > 0 && /^\d+$/.test(dyno.slice(dot + 1)) ? dyno.slice(0, dot) : dyno;
}

/** The signals of one drain line (none for most lines). */
export function signalsOf(frame: LogplexFrame): DrainSignal[] {
  if (frame.appName !== 'heroku') return [];
  if (frame.procId === 'router') {
    const fields = parseLogfmt(frame.message);
    const processType = fields.dyno ? processTypeOf(fields.dyno) : 'web';
    const signals: DrainSignal[] = [];
    const status = Number(fields.status);
    if (/^\d{3}$/.test(fields.status ?? '') && status >= 100 && status <= 599) signals.push({ kind: 'request', processType, status });
    if (fields.at === 'error' && fields.code !== undefined && ROUTER.has(fields.code)) signals.push({ kind: 'code', processType, code: fields.code });
    return signals;
  }
  // Runtime lines come from the dyno the platform speaks about (web.1, worker.2, ...).
  const processType = processTypeOf(frame.procId);
  const error = /^Error (R\d\d) \(/.exec(frame.message);
  if (error && RUNTIME.has(error[1]!)) return [{ kind: 'code', processType, code: error[1]! }];
  if (/^State changed from up to crashed\b/.test(frame.message)) return [{ kind: 'code', processType, code: CRASHED }];
  return [];
}
