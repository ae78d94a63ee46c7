import { FormBrowser } from '../helpers/browser-form-client.js';
import { pendingConsent, registerClient } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * What the consent page tells the person: a client that registered itself named itself (shown as
 * unverified), and the scope's words fit the resource (an HTTP app is its pages, not tools).
 */
describe('the consent page', () => {
  let portal: TestPortal;

  beforeAll(async () => {
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'handbook', kind: 'http', url: 'http://127.0.0.1:9/', title: 'Handbook' }],
      },
    });
  });
  afterAll(async () => {
    await portal?.close();
  });

  async function consentPage(resource?: string): Promise<string> {
    const { client_id } = await registerClient(portal.url, { client_name: 'Totally Official Agent' });
    const browser = new FormBrowser(portal.url);
    const { request } = await pendingConsent(portal.url, client_id, browser, ALICE, resource ? { resource } : {});
    return (await browser.get(`${portal.url}/consent?request=${request}`)).text();
  }

  test("a self-registered client's name is marked unverified; Allow is the primary button", async () => {
    const page = await consentPage();
    expect(page).toContain('Totally Official Agent');
    expect(page).toContain('Unverified: the application named itself.');
    expect(page).toMatch(/<button type="submit" name="decision" value="allow" class="primary">Allow<\/button>/);
    expect(page).toContain('use the tools, resources and prompts of these apps as you');
  });

  test("for an HTTP app, the scope is the app's pages", async () => {
    const page = await consentPage(`${portal.url}/apps/handbook`);
    expect(page).toContain('open and read the pages of Handbook as you');
    expect(page).not.toContain('tools, resources and prompts');
  });
});
