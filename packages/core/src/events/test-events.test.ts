import { describe, expect, it } from 'vitest';
import { appOfTestName, isTestAppName, testAppName } from './test-events.js';

describe('test event app names', () => {
  it('can never be a Heroku app name, and name the app they stand for', () => {
    const heroku = /^[a-z][a-z0-9-]{1,29}$/;
    for (const app of ['web-app', 'a1', 'x'.repeat(30)]) {
      const name = testAppName(app);
      expect(heroku.test(name)).toBe(false);
      expect(isTestAppName(name)).toBe(true);
      expect(appOfTestName(name)).toBe(app);
      expect(isTestAppName(app)).toBe(false);
    }
    expect(isTestAppName(null)).toBe(false);
  });
});
