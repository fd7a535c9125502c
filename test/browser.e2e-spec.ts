import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { WEB_ASSETS_DIR } from '../src/http/web-assets';
import { collectProblems, launchChromium } from './support/chromium';
import { TcpProxy } from './support/tcp-proxy';
import { ALICE, ALICE_FIXED, REMOTE_PARTY } from './support/fixtures';
import { http, publishAccepted, RunningGateway, startGateway } from './support/harness';

const WAIT = { timeout: 10_000 };

/**
 * @vora/client, the console and the AsyncAPI viewer in headless Chromium,
 * against the real gateway behind a TCP proxy the test cuts (SPEC section 11).
 */
describe('in a browser', () => {
  let browser: Browser;
  let gateway: RunningGateway;
  let proxy: TcpProxy;
  let appServer: Server;
  let appOrigin: string;
  let platform: string;

  const mint = async (sub: string, scope: string): Promise<string> => {
    const result = await http(`${gateway.url}/dev-issuer/token`, { body: { sub, scope } });
    expect(result.status).toBe(200);
    return result.body.access_token;
  };
  const presence = (n: number) => ({ event: 'PresenceChanged', identity: ALICE, data: { presence: `p${n}` } });

  beforeAll(async () => {
    // A web app of another origin, as a real one would be: it loads the browser build of the library.
    appServer = createServer((request, response) => {
      if (request.url === '/vora-client.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(WEB_ASSETS_DIR, 'client', 'vora-client.js')));
      } else {
        response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title><script src="/vora-client.js"></script>');
      }
    });
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://127.0.0.1:${(appServer.address() as { port: number }).port}`;
    [browser, gateway] = await Promise.all([launchChromium(), startGateway({ CORS_ORIGINS: appOrigin })]);
    proxy = await TcpProxy.start(Number(new URL(gateway.url).port));
    platform = await mint('core', 'vora:events:publish');
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await gateway?.close();
    await new Promise((resolve) => appServer?.close(resolve));
  });

  it('the library bundle receives events and resumes after the proxy cuts the connection', async () => {
    const page = await browser.newPage();
    const problems = collectProblems(page);
    await page.goto(appOrigin);
    const accessToken = await mint('alice', 'vora:user');
    await page.evaluate(
      async ({ baseUrl, accessToken, identity }) => {
        const { VoraClient } = (globalThis as any).VoraClientLibrary;
        const w = globalThis as any;
        w.received = [];
        w.states = [];
        const session = await new VoraClient({ baseUrl, accessToken }).openSession({ identity, connectionType: 'WEB' });
        session.on('event', (event: any) => w.received.push(Number(event.id)));
        session.on('state', (state: string) => w.states.push(state));
        w.session = session;
      },
      { baseUrl: proxy.url, accessToken, identity: ALICE },
    );
    await page.waitForFunction(() => (globalThis as any).session.state === 'connected', null, WAIT);
    await publishAccepted(gateway, platform, [presence(1), presence(2), presence(3)]);
    await page.waitForFunction(() => (globalThis as any).received.length === 3, null, WAIT);

    for (let cut = 0; cut < 2; cut++) {
      proxy.cutAll();
      await publishAccepted(gateway, platform, [presence(4 + cut * 2), presence(5 + cut * 2)]);
      await page.waitForFunction((n) => (globalThis as any).states.filter((s: string) => s === 'connected').length === n, cut + 2, WAIT);
    }
    await page.waitForFunction(() => (globalThis as any).received.length === 7, null, WAIT);
    expect(await page.evaluate(() => (globalThis as any).received)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await page.evaluate(() => (globalThis as any).states)).toEqual(['connected', 'reconnecting', 'connected', 'reconnecting', 'connected']);
    await page.evaluate(() => (globalThis as any).session.close());
    expect(problems).toEqual([]);
    await page.close();
  });

  describe('the console', () => {
    let page: Page;
    let problems: string[];
    beforeAll(async () => {
      page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      problems = collectProblems(page);
    });
    afterAll(() => page.close());

    const rowIds = () => page.$$eval('#event-rows tr', (rows) => rows.map((row) => (row as any).dataset.id));

    it('loads with no console errors under its policy', async () => {
      const response = await page.goto(`${proxy.url}/console`);
      expect(response!.status()).toBe(200);
      expect(response!.headers()['content-security-policy']).toContain(`script-src 'self'`);
      await page.waitForSelector('#samples:not([hidden])', WAIT);
      await page.waitForSelector('#publish-event option[value="CallDelivered"]', { state: 'attached', ...WAIT });
      expect(problems).toEqual([]);
    });

    it('signs in as a sample user and shows the identities', async () => {
      await page.selectOption('#sample-user', 'alice');
      expect(await page.inputValue('#sample-mode')).toBe('vora:user');
      await page.click('#sample-signin');
      await page.waitForSelector(`#identity-list button[data-identity="${ALICE}"]`, WAIT);
      expect(await page.$$eval('#identity-list code', (codes) => codes.map((c) => c.textContent))).toEqual([ALICE, ALICE_FIXED]);
      expect(await page.textContent('#state')).toBe('signed in');
    });

    it('opens a session and shows an event published by the test, with its id', async () => {
      await page.click(`#identity-list button[data-identity="${ALICE}"]`);
      await page.waitForSelector('#state[data-state="connected"]', WAIT);
      expect(await page.textContent('#fact-identity')).toBe(ALICE);
      await publishAccepted(gateway, platform, { event: 'CallDelivered', identity: ALICE, data: { callId: 'c-1', direction: 'terminating', remoteParty: REMOTE_PARTY } });
      await page.waitForSelector('#event-rows tr[data-id="1"][data-event="CallDelivered"]', WAIT);
      expect(await page.textContent('#fact-last')).toBe('1');
    });

    it('shows the resume after the proxy cuts the connection', async () => {
      proxy.cutAll();
      await publishAccepted(gateway, platform, presence(2));
      await page.waitForSelector('#activity-log li:has-text("resumed after event 1")', WAIT);
      await page.waitForSelector('#state[data-state="connected"]', WAIT);
      await page.waitForSelector('#event-rows tr[data-id="2"]', WAIT);
      expect(await page.textContent('#fact-connections')).toBe('2');
      expect(await page.$$eval('#activity-log li', (items) => items.map((i) => i.textContent).join('\n'))).toMatch(/state: reconnecting/);
    });

    it('drops the connection itself, and resumes', async () => {
      await page.click('#drop');
      await page.waitForSelector('#activity-log li:has-text("welcome #3")', WAIT);
      await page.waitForSelector('#state[data-state="connected"]', WAIT);
    });

    it('changes the subscription, and publishes a sample event with a platform token', async () => {
      await page.uncheck('#subscribe-all');
      for (const box of await page.$$('#subscription-events input')) {
        if ((await box.getAttribute('value')) !== 'VoicemailWaiting') await box.uncheck();
        else await box.check();
      }
      await page.click('#apply-subscription');
      await page.waitForSelector('#activity-log li:has-text("subscription: VoicemailWaiting")', WAIT);
      await publishAccepted(gateway, platform, presence(3));

      await page.click('#platform-token');
      await page.waitForFunction(() => (globalThis as any).document.getElementById('platform-token-input').value.length > 20, null, WAIT);
      await page.selectOption('#publish-event', 'VoicemailWaiting');
      expect(await page.inputValue('#publish-target')).toBe(ALICE);
      await page.click('#publish-send');
      await page.waitForSelector('#publish-result:has-text("202: accepted 1")', WAIT);
      // The presence event was left out by the subscription: the voicemail one is id 3.
      await page.waitForSelector('#event-rows tr[data-id="3"][data-event="VoicemailWaiting"]', WAIT);
      expect(await rowIds()).toEqual(['3', '2', '1']);
      if (process.env.CONSOLE_SCREENSHOT) await page.screenshot({ path: process.env.CONSOLE_SCREENSHOT, fullPage: true });
      expect(problems).toEqual([]);
    });
  });

  it('renders /asyncapi with AsyncAPI\'s viewer', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = collectProblems(page);
    await page.goto(`${proxy.url}/asyncapi`);
    // The close-code table, rendered from the channel's description: the page is drawn, not just loaded.
    await page.waitForSelector('th:has-text("what the client does")', WAIT);
    expect(await page.locator('h1', { hasText: 'VORA Gateway WebSocket 0.2' }).count()).toBeGreaterThan(0);
    await page.waitForSelector('text=event.CallDelivered', { state: 'attached', ...WAIT });
    expect(await page.textContent('body')).toContain('receiveReadyOrDecline');
    expect(problems).toEqual([]);
    await page.close();
  });
});
