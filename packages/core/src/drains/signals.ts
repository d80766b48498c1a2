/**
 * What a drain line tells about an app's health: a router request and its status, a router
 * error code (H10, H12, ...), a runtime error code (R14, R15, ...) or a crash, per process type.
 * Lines of the app's own processes and everything else tell nothing. `countDrainBody`
 * (count-body.ts) reads them; these are the names it counts them by.
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
