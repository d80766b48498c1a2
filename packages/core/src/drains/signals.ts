/**
 * What a drain line tells about an app's health: a router request and its status, a router
 * error code (H10, H12, ...), a runtime error code (R14, R15, ...) or a crash, per process type.
 * Lines of the app's own processes and everything else tell nothing. `countDrainBody`
 * (count-body.ts) reads them; these are the names and the field readers it uses.
 */
export const ROUTER_CODES = ['H10', 'H11', 'H12', 'H13', 'H14', 'H15', 'H18', 'H19', 'H20', 'H27', 'H80', 'H99'] as const;
export const RUNTIME_CODES = ['R10', 'R12', 'R13', 'R14', 'R15', 'R16', 'R17', 'R99'] as const;
/** A dyno that crashed, up or while booting (its own signal: no error code names it). */
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
export const isRouterCode = (code: string): boolean => ROUTER.has(code);
export const isRuntimeCode = (code: string): boolean => RUNTIME.has(code);

/** `web.1` is `web`; `run.1234` is `run`; a name without a number is itself. */
export function processTypeOf(dyno: string): string {
  const dot = dyno.lastIndexOf('.');
  if (dot <= 0 || dot === dyno.length - 1) return dyno;
  for (let i = dot + 1; i < dyno.length; i += 1) {
    const c = dyno.charCodeAt(i);
    if (c < 48 || c > 57) return dyno;
  }
  return dyno.slice(0, dot);
}

/**
 * The fields of a router line that make signals, read without parsing the whole logfmt line
 * (most lines of a drain are router lines, and this is the ingress' hot path). The router writes
 * its fields in one order (`at`, `code`, `desc`, `method`, `path`, `host`, `request_id`, `fwd`,
 * `dyno`, `connect`, `service`, `status`, `bytes`, `protocol`, ...): `at=error code=` opens an
 * error line, and the last ` status=` and the last ` dyno=` before it are the real ones even
 * when a request's path holds those words (the path comes first).
 */
export function routerFields(line: string): { code: string | null; dyno: string; status: number | null } {
  const code = line.startsWith('at=error code=') ? readValue(line, 14) : null;
  const statusAt = line.lastIndexOf(' status=');
  let status: number | null = null;
  if (statusAt !== -1) {
    const text = readValue(line, statusAt + 8);
    if (text.length === 3) {
      const value = Number(text);
      if (Number.isInteger(value) && value >= 100 && value <= 599) status = value;
    }
  }
  const dynoAt = statusAt === -1 ? line.lastIndexOf(' dyno=') : line.lastIndexOf(' dyno=', statusAt);
  return { code, dyno: dynoAt === -1 ? '' : readValue(line, dynoAt + 6), status };
}

/** The unquoted value starting at `from`, up to the next space. */
function readValue(line: string, from: number): string {
  const end = line.indexOf(' ', from);
  return line.slice(from, end === -1 ? line.length : end);
}
