import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createIntegration, postWebhook, startTestStack, type TestStack } from '../support/stack.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../test-results/screenshots');

let stack: TestStack;
let browser: Browser;
let integration: { id: string; secret: string };
/** Content Security Policy violations any page reported (the event, and Chromium's console line). */
let violations: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`browser tests need Debian's Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run does this)`);
  stack = await startTestStack();
  stack.startWorker();
  integration = await createIntegration(stack, ['web-app', 'xss-app', 'deploy-app']);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});
afterEach(() => {
  const seen = violations;
  violations = [];
  expect(seen, 'Content Security Policy violations').toEqual([]);
});

async function newPage(viewport = { width: 1280, height: 860 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  await context.exposeBinding('__cspViolation', (_source, violation: string) => void violations.push(violation));
  await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) => window.__cspViolation(e.violatedDirective + ' blocked ' + e.blockedURI + ' on ' + e.documentURI))`);
  context.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  return context.newPage();
}

async function signIn(token: string, viewport = { width: 1280, height: 860 }): Promise<Page> {
  const page = await newPage(viewport);
  await page.goto(`${stack.url}/incidents`);
  await expect.poll(() => page.url()).toContain('/login');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${stack.url}/incidents`);
  return page;
}

const send = (event: object) => postWebhook(stack, integration.id, JSON.stringify(event), { secret: integration.secret });
const crash = (app: string) => {
  const id = randomUUID();
  return { id, data: { app: { name: app }, name: 'web.1', state: 'crashed', management: 'formation', exit_status: 1 }, created_at: new Date().toISOString(), webhook_metadata: { event: { id, include: 'dyno' } } };
};

describe('web UI in a real browser', () => {
  it('signs in, shows a new incident without a reload, and acknowledges and resolves it', async () => {
    const page = await signIn(ADMIN_TOKEN);
    await expect.poll(() => page.getByText('No incidents match.').isVisible()).toBe(true);
    const cookie = (await page.context().cookies()).find((c) => c.name === 'pb_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

    expect((await send(crash('web-app'))).status).toBe(202);
    const link = page.getByRole('link', { name: 'Dyno web.1 crashed on web-app (exit status 1)' });
    await link.waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'incidents.png') });

    await link.click();
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => page.locator('#status').textContent()).toBe('acknowledged');
    await expect.poll(() => page.getByText('acknowledged by admin (ADMIN_TOKEN)', { exact: true }).isVisible()).toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'incident.png'), fullPage: true });
    await page.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => page.locator('#status').textContent()).toBe('resolved');
    await expect.poll(() => page.getByRole('button', { name: 'Resolve' }).count()).toBe(0);
    await page.context().close();
  });

  it('maps an app to a service; the next deploy pulse is linked to it', async () => {
    const page = await signIn(ADMIN_TOKEN);
    await page.getByRole('link', { name: 'Services' }).click();
    const form = page.locator('form[action="/services"]');
    await form.getByLabel('Name').fill('storefront');
    await form.getByLabel('Heroku apps').fill('deploy-app, not-monitored-app');
    await form.getByRole('button', { name: 'Create service' }).click();
    await expect.poll(() => page.getByText('Service storefront created.').isVisible()).toBe(true);
    // The classic support question, answered on the page.
    await expect.poll(() => page.getByText('Not monitored by any integration: not-monitored-app').isVisible()).toBe(true);

    const build = { id: randomUUID(), resource: 'build', action: 'update', data: { id: randomUUID(), app: { name: 'deploy-app' }, status: 'succeeded', source_blob: { version: 'abcdef123456' } }, actor: { email: 'dev@example.com' }, created_at: new Date().toISOString() };
    expect((await send(build)).status).toBe(202);
    await expect
      .poll(async () => {
        await page.goto(`${stack.url}/deploys?app=deploy-app`);
        return page.locator('td.services').first().textContent({ timeout: 500 }).catch(() => null);
      }, { timeout: 15_000 })
      .toBe('storefront');
    await expect.poll(() => page.getByText('[Heroku][Build] deploy-app succeeded').isVisible()).toBe(true);
    await page.context().close();
  });

  it("a responder reads services and a service's page (open incidents, recent pulses), sees no admin pages, and the server refuses them too", async () => {
    const responder = (await stack.call('POST', '/api/v1/tokens', { body: { name: 'Robin (on call)', role: 'responder' } })).body.token;
    const crashId = randomUUID();
    const crash = { id: crashId, data: { app: { name: 'deploy-app' }, name: 'web.1', state: 'crashed', management: 'formation', exit_status: 1 }, created_at: new Date().toISOString(), webhook_metadata: { event: { id: crashId, include: 'dyno' } } };
    expect((await send(crash)).status).toBe(202);
    const page = await signIn(responder, { width: 390, height: 844 });
    expect(await page.getByRole('link', { name: 'Integrations' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Services' }).click();
    await expect.poll(() => page.getByRole('link', { name: 'storefront', exact: true }).isVisible()).toBe(true);
    expect(await page.locator('form[action="/services"]').count()).toBe(0);
    expect(await page.getByRole('button', { name: /Save|Delete|Create/ }).count()).toBe(0);
    await page.getByRole('link', { name: 'storefront', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'storefront' }).isVisible()).toBe(true);
    await expect
      .poll(async () => {
        await page.reload();
        return page.getByRole('link', { name: 'Dyno web.1 crashed on deploy-app (exit status 1)' }).isVisible();
      }, { timeout: 15_000 })
      .toBe(true);
    await expect.poll(() => page.getByText('[Heroku][Build] deploy-app succeeded').isVisible()).toBe(true);
    for (const url of ['/integrations', `/integrations/${integration.id}`]) {
      const response = await page.goto(`${stack.url}${url}`);
      expect(response?.status()).toBe(403);
      await expect.poll(() => page.getByRole('heading', { name: 'Admins only' }).isVisible()).toBe(true);
    }
    // A forged form post without the page's CSRF token is refused even for the signed-in user.
    const forged = await page.request.post(`${stack.url}/services`, { form: { name: 'sneaky' } });
    expect(forged.status()).toBe(403);
    expect((await stack.call('GET', '/api/v1/services')).body.items.map((s: { name: string }) => s.name)).not.toContain('sneaky');
    await page.context().close();
  });

  it('integration health: Send test event goes through the real ingress and shows where it ended', async () => {
    const page = await signIn(ADMIN_TOKEN);
    await page.goto(`${stack.url}/integrations/${integration.id}`);
    await expect.poll(() => page.getByText(`heroku webhooks:add -i api:build,api:release,dyno -l sync -u http://pulsebridge.test/webhooks/heroku/${integration.id} -s SECRET -a web-app`).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Send test event' }).click();
    await expect.poll(() => page.locator('#test-result').textContent(), { timeout: 15_000 }).toContain('made a test build pulse');
    // The panel refreshes every 3 s until the event is done.
    await expect.poll(() => page.locator('#test-result .pill').textContent(), { timeout: 10_000 }).toBe('processed');
    const [event] = await stack.sql("SELECT status::text, entity FROM events WHERE payload->'actor'->>'email' = 'pulsebridge@test.event'");
    expect(event).toEqual({ status: 'processed', entity: 'api:build' });
    await page.context().close();
  });

  it('a malformed id in a URL is a not-found page, never a server error', async () => {
    const page = await signIn(ADMIN_TOKEN);
    const notUuid = '-'.repeat(36);
    expect((await page.goto(`${stack.url}/incidents/${notUuid}`))!.status()).toBe(404);
    expect((await page.goto(`${stack.url}/events/${notUuid}`))!.status()).toBe(404);
    expect((await page.goto(`${stack.url}/integrations/${notUuid}`))!.status()).toBe(404);
    expect((await page.goto(`${stack.url}/integrations/${integration.id}?test=${notUuid}`))!.status()).toBe(200);
    expect((await page.goto(`${stack.url}/deploys?service=${notUuid}`))!.status()).toBe(200);
    await page.context().close();
  });

  it('after sign-in, a next that points off-site leaves the browser on this site', async () => {
    for (const next of ['/\\evil.example/x', '//evil.example/x', '/\t/evil.example/x', 'https://evil.example/x']) {
      const page = await newPage();
      await page.goto(`${stack.url}/login?next=${encodeURIComponent(next)}`);
      await page.getByLabel('API token').fill(ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${stack.url}/incidents`);
      await page.context().close();
    }
  });

  it('the Content Security Policy is enforced: an injected inline script is blocked and reported', async () => {
    const page = await signIn(ADMIN_TOKEN);
    await page.evaluate(`document.body.append(Object.assign(document.createElement('script'), { textContent: 'window.__inline = 1' }))`);
    await expect.poll(() => violations.some((v) => v.startsWith('script-src'))).toBe(true);
    expect(await page.evaluate(() => (globalThis as unknown as { __inline?: number }).__inline)).toBeUndefined();
    // Seen as it should be: not a failure of this test.
    violations = [];
    await page.context().close();
  });

  it('a payload with markup is shown as text, never run', async () => {
    const description = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';
    const release = { id: randomUUID(), resource: 'release', action: 'update', data: { id: randomUUID(), app: { name: 'xss-app' }, status: 'failed', version: 3, description }, created_at: new Date().toISOString() };
    expect((await send(release)).status).toBe(202);
    const page = await signIn(ADMIN_TOKEN);
    const title = `Release v3 failed on xss-app: ${description}`;
    await page.getByRole('link', { name: title }).waitFor({ timeout: 15_000 });
    await page.getByRole('link', { name: title }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toContain(description);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('main script, main img').count()).toBe(0);
    await page.context().close();
  });
});
