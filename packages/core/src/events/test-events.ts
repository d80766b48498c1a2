/**
 * Test events (the UI's "Send test event") go through the real ingress and worker under an app
 * name of their own, `test:<app>`. Heroku app names are `^[a-z][a-z0-9-]{1,29}$`, so no real
 * app is ever called that, and services may not claim such a name: a test event's incidents
 * and pulses share nothing with real ones (no grouping, no resolving, no suspect deploy, no
 * service channel), and lists of pulses leave them out.
 */
export const TEST_APP_PREFIX = 'test:';

/** The app name a test event of `app` carries. */
export function testAppName(app: string): string {
  return `${TEST_APP_PREFIX}${app}`;
}

/** Whether an app name is a test event's. */
export function isTestAppName(name: string | null | undefined): name is string {
  return name?.startsWith(TEST_APP_PREFIX) === true;
}

/** The real app a test event's app name stands for. */
export function appOfTestName(name: string): string {
  return name.slice(TEST_APP_PREFIX.length);
}

/**
 * A test event's dedup keys, apart from every real one whatever the rules make them (a rule's
 * key need not name the app).
 */
export function testDedupKey(key: string): string {
  return `${TEST_APP_PREFIX}${key}`;
}

/** Prisma `where` for pulses that are not a test event's. */
export const REAL_PULSES = { OR: [{ appName: null }, { NOT: { appName: { startsWith: TEST_APP_PREFIX } } }] };
