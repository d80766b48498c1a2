import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInUi, startTestStack, type TestStack, type UiSession } from '../support/stack.js';

// The list pages' filter menus offer each value on its own, and the chosen one stays selected.
let stack: TestStack;
let session: UiSession;
beforeAll(async () => {
  stack = await startTestStack();
  session = await signInUi(stack);
});
afterAll(async () => stack?.stop());

async function menu(pathAndQuery: string, name: string): Promise<{ values: string[]; selected: string[] }> {
  const page = await (await fetch(`${stack.url}${pathAndQuery}`, { headers: { cookie: session.cookie } })).text();
  const select = new RegExp(`<select name="${name}">([\\s\\S]*?)</select>`).exec(page)?.[1] ?? '';
  const options = [...select.matchAll(/<option value="([^"]*)"\s*(selected)?/g)];
  return { values: options.map((option) => option[1]!), selected: options.filter((option) => option[2]).map((option) => option[1]!) };
}

describe('list filters in the web UI', () => {
  it.each([
    ['/incidents?status=resolved', 'status', ['', 'triggered', 'acknowledged', 'resolved'], 'resolved'],
    ['/incidents?severity=high', 'severity', ['', 'critical', 'high', 'medium', 'low', 'info'], 'high'],
    ['/events?status=failed', 'status', ['', 'received', 'processed', 'skipped', 'failed'], 'failed'],
  ])('%s offers each %s and keeps the chosen one', async (url, name, values, chosen) => {
    const found = await menu(url, name);
    expect(found.values).toEqual(values);
    expect(found.selected).toEqual([chosen]);
  });
});
