import { describe, expect, it } from 'vitest';
import { mergeTouched } from './process-event.js';

const at = (second: number) => new Date(Date.UTC(2026, 10, 24, 9, 0, second));

describe('what several events changed, merged for their notifications', () => {
  it.each([
    {
      what: 'one event: as it is',
      list: [{ incidents: [{ id: 'a', updatedAt: at(1), opened: true }], pulseIds: ['p'] }],
      merged: { incidents: [{ id: 'a', updatedAt: at(1), opened: true }], pulseIds: ['p'] },
    },
    {
      what: 'an incident opened by one event and changed by the next: once, at its latest revision, opened',
      list: [
        { incidents: [{ id: 'a', updatedAt: at(1), opened: true }], pulseIds: [] },
        { incidents: [{ id: 'a', updatedAt: at(2), opened: false }], pulseIds: [] },
      ],
      merged: { incidents: [{ id: 'a', updatedAt: at(2), opened: true }], pulseIds: [] },
    },
    {
      what: 'revisions out of order: the latest wins',
      list: [
        { incidents: [{ id: 'a', updatedAt: at(5), opened: false }], pulseIds: [] },
        { incidents: [{ id: 'a', updatedAt: at(3), opened: false }], pulseIds: [] },
      ],
      merged: { incidents: [{ id: 'a', updatedAt: at(5), opened: false }], pulseIds: [] },
    },
    {
      what: 'different incidents and pulses: all of them, in the order the events touched them, each once',
      list: [
        { incidents: [{ id: 'b', updatedAt: at(1), opened: true }], pulseIds: ['p1'] },
        { incidents: [{ id: 'a', updatedAt: at(2), opened: false }], pulseIds: ['p2', 'p1'] },
        { incidents: [], pulseIds: [] },
      ],
      merged: {
        incidents: [
          { id: 'b', updatedAt: at(1), opened: true },
          { id: 'a', updatedAt: at(2), opened: false },
        ],
        pulseIds: ['p1', 'p2'],
      },
    },
  ])('$what', ({ list, merged }) => {
    expect(mergeTouched(list)).toEqual(merged);
  });
});
