import { adminDocument, adminToken, adminFetch, connectNamedAgent } from '../helpers/admin.js';
import { FormBrowser, hiddenFields } from '../helpers/browser-form-client.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { authorizeUrl, mcpInitialize, pkce, registerClient } from '../helpers/oauth-flow.js';
import { ALICE, BOB, startTestPortal, type TestPortal } from '../helpers/portal.js';

const EVIL = `<script>alert("x")</script><img src=x onerror=alert(1)>`;

describe('the revoke forms and the pages refuse forgery and escape what they show', () => {
  let upstream: RecordingServer;
  let portal: TestPortal;

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: await adminDocument({ upstreams: [{ id: 'tools', kind: 'mcp', url: upstream.url, title: EVIL }] }),
    });
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
  });

  async function signedIn(person: { username: string; password: string }): Promise<FormBrowser> {
    const browser = new FormBrowser(portal.url);
    await browser.signIn(await browser.get(`${portal.url}/login`), person);
    return browser;
  }

  test("revoke without the CSRF token, or with another session's, is 403 and revokes nothing", async () => {
    const agent = await connectNamedAgent(portal.url, ALICE, 'Victim agent');
    const alice = await signedIn(ALICE);
    const page = await (await alice.get(`${portal.url}/connections`)).text();
    const fields = hiddenFields(page);
    expect(fields.grant).toBeDefined();

    expect((await alice.post(`${portal.url}/connections/revoke`, { grant: fields.grant! })).status).toBe(403);
    expect((await alice.post(`${portal.url}/connections/revoke`, { grant: fields.grant!, csrf: 'forged' })).status).toBe(403);
    const otherSession = hiddenFields(await (await (await signedIn(ALICE)).get(`${portal.url}/connections`)).text()).csrf!;
    expect(otherSession).not.toBe(fields.csrf);
    expect((await alice.post(`${portal.url}/connections/revoke`, { grant: fields.grant!, csrf: otherSession })).status).toBe(403);
    expect((await mcpInitialize(`${portal.url}/mcp`, agent.accessToken())).status).toBe(200);

    // Bob cannot revoke Alice's grant with his own valid token: it is not his.
    const bobsAgent = await connectNamedAgent(portal.url, BOB, 'Bob agent');
    const bob = await signedIn(BOB);
    const bobCsrf = hiddenFields(await (await bob.get(`${portal.url}/connections`)).text()).csrf!;
    expect((await bob.post(`${portal.url}/connections/revoke`, { grant: fields.grant!, csrf: bobCsrf })).status).toBe(404);
    expect((await mcpInitialize(`${portal.url}/mcp`, agent.accessToken())).status).toBe(200);

    // The admin page's forms need their token too.
    expect((await alice.post(`${portal.url}/admin/grants/revoke`, { grant: fields.grant! })).status).toBe(403);
    expect((await alice.post(`${portal.url}/admin/upstreams`, { id: 'x', kind: 'http', url: upstream.url })).status).toBe(403);
    expect((await mcpInitialize(`${portal.url}/mcp`, agent.accessToken())).status).toBe(200);

    const done = await alice.post(`${portal.url}/connections/revoke`, { grant: fields.grant!, csrf: fields.csrf! });
    expect(done.status).toBe(303);
    expect((await mcpInitialize(`${portal.url}/mcp`, agent.accessToken())).status).toBe(401);
    await agent.client.close().catch(() => {});
    await bobsAgent.client.close().catch(() => {});
  });

  test('client names and app names are escaped on the consent, connections and admin pages', async () => {
    const client = await registerClient(portal.url, { client_name: EVIL });
    const agent = await connectNamedAgent(portal.url, ALICE, EVIL);
    const alice = await signedIn(ALICE);
    const consent = await (await alice.follow(authorizeUrl(portal.url, client.client_id, pkce().challenge).href)).text();
    expect(consent).toContain('action="/consent"');
    const pages = [
      consent,
      await (await alice.get(`${portal.url}/connections`)).text(),
      await (await alice.get(`${portal.url}/admin?person=local:alice`)).text(),
    ];
    for (const html of pages) {
      expect(html).not.toContain('<script>alert');
      expect(html).not.toContain('<img src=x');
      expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    }
    await agent.client.close().catch(() => {});
  });

  test('the pages send a CSP that allows no script, and sign-in is required', async () => {
    const alice = await signedIn(ALICE);
    for (const path of ['/connections', '/admin']) {
      const res = await alice.get(`${portal.url}${path}`);
      expect(res.status).toBe(200);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toContain('script-src');
      expect(csp).toContain("form-action 'self'");
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    const stranger = await fetch(`${portal.url}/connections`, { redirect: 'manual' });
    expect(stranger.status).toBe(303);
    expect(stranger.headers.get('location')).toBe('/login?return_to=%2Fconnections');
    const bob = await signedIn(BOB);
    expect((await bob.get(`${portal.url}/admin`)).status).toBe(403);
    const token = await adminToken(portal.url);
    expect((await adminFetch(portal.url, '/upstreams', { token })).status).toBe(200);
  });
});
