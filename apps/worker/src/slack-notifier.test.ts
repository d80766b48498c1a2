import { describe, expect, it } from 'vitest';
import { inlineSlots } from './slack-notifier.js';

describe('inline Slack slots', () => {
  it.each([
    { inlineSyncs: 4, eventConcurrency: 10, pages: 6, others: 3, what: 'defaults: pages get three slots changes and pulses cannot take, and two more' },
    { inlineSyncs: 4, eventConcurrency: 5, pages: 4, others: 3, what: 'few event jobs: pages leave one to apply events' },
    { inlineSyncs: 2, eventConcurrency: 3, pages: 2, others: 1, what: "app.json's settings: one slot kept for pages" },
    { inlineSyncs: 8, eventConcurrency: 4, pages: 8, others: 7, what: 'never fewer page slots than SLACK_INLINE_SYNCS' },
    { inlineSyncs: 1, eventConcurrency: 10, pages: 1, others: 1, what: 'a single slot is shared' },
    { inlineSyncs: 0, eventConcurrency: 10, pages: 0, others: 0, what: 'none: everything goes through the Slack queue' },
  ])('$what', ({ inlineSyncs, eventConcurrency, pages, others }) => {
    expect(inlineSlots(inlineSyncs, eventConcurrency)).toEqual({ pages, others });
  });
});
