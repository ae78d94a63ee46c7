import { adminDocument } from '../helpers/admin.js';
import { connectAgent } from '../helpers/agent.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { startMutableToolsServer, type MutableToolsServer } from '../helpers/mutable-tools-server.js';
import { ALICE, BOB, startTestPortal, type TestPortal } from '../helpers/portal.js';

/**
 * `GET /`, the portal's home: a stranger signs in first; a person sees the apps they may use (with
 * what an MCP server offers), copy-ready lines to connect an agent, and, if an admin, the way to
 * `/admin`. What they may not use is not shown; names are escaped.
 */
describe('the home page', () => {
  let upstream: MutableToolsServer;
  let portal: TestPortal;

  beforeAll(async () => {
    upstream = await startMutableToolsServer({ search: 'Searches.', read: 'Reads.' });
    portal = await startTestPortal({
      document: await adminDocument({
        upstreams: [
          { id: 'wiki', kind: 'mcp', url: upstream.url, title: 'Wiki <tools>' },
          { id: 'finance', kind: 'mcp', url: upstream.url, title: 'Finance', access: { groups: ['eng'] } },
          { id: 'handbook', kind: 'http', url: 'http://127.0.0.1:9/', title: 'Handbook' },
        ],
      }),
    });
    // An agent lists the tools once: the portal then knows what the servers offer.
    const agent = await connectAgent(portal.url, ALICE);
    await agent.client.listTools();
    await agent.client.close();
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
  });

  async function home(person: { username: string; password: string }): Promise<string> {
    const browser = new FormBrowser(portal.url);
    const signIn = await browser.get(`${portal.url}/`);
    expect(signIn.status).toBe(303);
    expect(signIn.headers.get('location')).toBe('/login?return_to=%2F');
    const page = await browser.signIn(await browser.get(`${portal.url}/login?return_to=%2F`), person);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    return page.text();
  }

  test("a person's apps, what the MCP servers offer, and the lines that connect an agent", async () => {
    const page = await home(ALICE);
    expect(page).toContain('<a href="/apps/handbook/">Handbook</a>');
    expect(page).toMatch(/<strong>Wiki &lt;tools&gt;<\/strong> <span class="muted">MCP server, 2 tools<\/span>/);
    expect(page).toContain(`claude mcp add --transport http gatehouse ${portal.url}/mcp`);
    expect(page).toContain(`npx mcp-remote ${portal.url}/mcp`);
    expect(page).toContain(`&quot;url&quot;: &quot;${portal.url}/mcp&quot;`);
    expect(page).toContain(`<code>${portal.url}/mcp/wiki</code>`);
    expect(page).toContain('href="/connections"');
    expect(page).toContain('href="/admin"');
    expect(page).not.toContain('<tools>');
  });

  test('another person sees only what they may use, and no way to /admin', async () => {
    const page = await home(BOB);
    expect(page).not.toContain('Finance');
    expect(page).toContain('Wiki &lt;tools&gt;');
    expect(page).not.toContain('href="/admin"');
  });
});
