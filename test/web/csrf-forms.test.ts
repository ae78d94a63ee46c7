import { adminDocument, adminFetch, adminToken } from '../helpers/admin.js';
import { FormBrowser, hiddenFields } from '../helpers/browser-form-client.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { authorizeUrl, pkce, registerClient } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, type TestPortal } from '../helpers/portal.js';

/**
 * Every state-changing form of the portal's pages carries the page's CSRF token and is refused
 * without it (403 `invalid_csrf`, nothing changed). Sign-out also takes a same-origin `Origin`.
 */
describe('every form refuses a post without its CSRF token', () => {
  let upstream: RecordingServer;
  let portal: TestPortal;

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: await adminDocument({ upstreams: [{ id: 'tools', kind: 'mcp', url: upstream.url }] }),
    });
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
  });

  async function signedIn(): Promise<FormBrowser> {
    const browser = new FormBrowser(portal.url);
    await browser.signIn(await browser.get(`${portal.url}/login`), ALICE);
    return browser;
  }

  /** Whether `browser`'s session is still live (the connections page shows, not the sign-in redirect). */
  async function stillSignedIn(browser: FormBrowser): Promise<boolean> {
    return (await browser.get(`${portal.url}/connections`)).status === 200;
  }

  async function expectRefused(res: Response): Promise<void> {
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('invalid csrf');
  }

  /** Signs out with `headers` added to the post (e.g. an `Origin`). */
  function logout(browser: FormBrowser, fields: Record<string, string>, headers: Record<string, string>): Promise<Response> {
    return fetch(`${portal.url}/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html',
        cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...headers,
      },
      body: new URLSearchParams(fields).toString(),
    });
  }

  test('every post form on the sign-in, consent, connections and admin pages carries a csrf field', async () => {
    const browser = new FormBrowser(portal.url);
    const pages = [await (await browser.get(`${portal.url}/login`)).text()];
    await browser.signIn(await browser.get(`${portal.url}/login`), ALICE);
    const client = await registerClient(portal.url);
    pages.push(await (await browser.follow(authorizeUrl(portal.url, client.client_id, pkce().challenge).href)).text());
    pages.push(await (await browser.get(`${portal.url}/connections`)).text());
    pages.push(await (await browser.get(`${portal.url}/admin?person=local:alice`)).text());
    const forms = pages.flatMap((page) => [...page.matchAll(/<form[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/g)]);
    expect(forms.map((form) => /action="([^"]+)"/.exec(form[0])![1]).sort()).toEqual(
      expect.arrayContaining(['/admin/upstreams', '/consent', '/login', '/logout']),
    );
    for (const form of forms) expect(form[1]).toMatch(/<input type="hidden" name="csrf" value="[A-Za-z0-9_-]{20,}">/);
  });

  test('sign-out without the token or a same-origin Origin is 403, and the session stays', async () => {
    const browser = await signedIn();
    await expectRefused(await logout(browser, {}, {}));
    await expectRefused(await logout(browser, {}, { origin: 'https://evil.example' }));
    await expectRefused(await logout(browser, { csrf: 'forged' }, { origin: 'null' }));
    expect(await stillSignedIn(browser)).toBe(true);
  });

  test('sign-out with the page’s token ends the session', async () => {
    const browser = await signedIn();
    const { csrf } = hiddenFields(await (await browser.get(`${portal.url}/connections`)).text());
    const res = await logout(browser, { csrf: csrf! }, { origin: 'https://evil.example' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login');
    expect(await stillSignedIn(browser)).toBe(false);
  });

  test('sign-out from the portal’s own origin (a browser sends Origin on every POST) ends the session', async () => {
    const browser = await signedIn();
    const res = await logout(browser, {}, { origin: new URL(portal.url).origin });
    expect(res.status).toBe(303);
    expect(await stillSignedIn(browser)).toBe(false);
  });

  test('disconnecting an app on the connections page needs the token', async () => {
    const browser = await signedIn();
    await expectRefused(await browser.post(`${portal.url}/connections/disconnect`, { upstream: 'tools' }));
    await expectRefused(await browser.post(`${portal.url}/connect/tools/disconnect`, { csrf: 'forged' }));
  });

  test('removing an upstream on the admin page needs the token, and the upstream stays', async () => {
    const token = await adminToken(portal.url);
    const created = await adminFetch(portal.url, '/upstreams', {
      token,
      method: 'POST',
      body: { id: 'extra', kind: 'mcp', url: upstream.url },
    });
    expect(created.status).toBe(201);
    const browser = await signedIn();
    await expectRefused(await browser.post(`${portal.url}/admin/upstreams/delete`, { id: 'extra' }));
    const listed = (await (await adminFetch(portal.url, '/upstreams', { token })).json()) as { upstreams: Array<{ id: string }> };
    expect(listed.upstreams.map((u) => u.id)).toContain('extra');
  });
});
