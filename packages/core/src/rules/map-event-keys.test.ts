import { describe, expect, it } from 'vitest';
import { MAX_KEY_LENGTH, boundKey } from './map-event.js';

describe('boundKey', () => {
  it('keeps short keys as rendered', () => {
    expect(boundKey('heroku:my-app:dyno:web.1')).toBe('heroku:my-app:dyno:web.1');
    expect(boundKey('k'.repeat(MAX_KEY_LENGTH))).toBe('k'.repeat(MAX_KEY_LENGTH));
  });

  it('bounds long keys to a readable prefix and a digest of the whole: equal keys stay equal, different tails differ', () => {
    const long = `heroku:my-app:dyno:web.${'x'.repeat(1_100)}`;
    const bounded = boundKey(long);
    expect(bounded.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    expect(bounded.startsWith('heroku:my-app:dyno:web.xxx')).toBe(true);
    expect(boundKey(long)).toBe(bounded);
    expect(boundKey(`${long}y`)).not.toBe(bounded);
  });

  it('never cuts a surrogate pair in half', () => {
    const bounded = boundKey(`${'a'.repeat(149)}${'😀'.repeat(100)}`);
    expect(bounded.startsWith(`${'a'.repeat(149)}...#`)).toBe(true);
    expect(Buffer.from(bounded).toString()).toBe(bounded);
  });
});
