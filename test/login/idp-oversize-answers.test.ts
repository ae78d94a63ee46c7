import { FormBrowser } from '../helpers/browser-form-client.js';
import { startFakeIdp, type FakeIdp } from '../helpers/fake-oidc-idp.js';
import { runBrowser } from '../helpers/idp-browser.js';
import { UNLIMITED } from '../helpers/oauth-flow.js';
import { startTestPortal, type TestPortal } from '../helpers/portal.js';

/**
 * An IdP is configured by the operator, yet what it sends is still bounded: a JWKS found by
 * discovery that never ends is cut off (the portal hangs up), and the person gets a page.
 */
describe('IdP sign-in: answers too large to take', () => {
  let fake: FakeIdp;
  let portal: TestPortal;

  beforeAll(async () => {
    fake = await startFakeIdp({ clientId: 'gatehouse', clientSecret: 'fake-secret' });
    fake.misbehave = { hugeJwks: true };
    portal = await startTestPortal({
      document: {
        rate_limits: UNLIMITED,
        login: {
          builtin: false,
          idps: [{ id: 'fake', title: 'Fake IdP', issuer: fake.issuer, client_id: 'gatehouse', client_secret: 'fake-secret' }],
        },
      },
    });
  });
  afterAll(async () => {
    await portal?.close();
    await fake?.close();
  });

  test('a 200 MB JWKS is cut off at the size limit: a page for the person, no session, and the portal hung up', async () => {
    const browser = new FormBrowser(portal.url);
    const outcome = await runBrowser(browser, `${portal.url}/login/fake`, [portal.url, fake.issuer], { idpLogin: 'frank' });
    expect(outcome.status).toBe(502);
    expect(outcome.page).toMatch(/The answer from Fake IdP could not be verified/);
    expect(browser.cookies.has('gatehouse_session')).toBe(false);
    const failure = portal.logs.lines.filter((l) => l.event === 'login_failed').at(-1)!;
    expect(String(failure.msg)).toMatch(/^too_large/);
    // The IdP sees the connection close as soon as it is cut; wait for that news to reach it.
    while (!fake.hungUp.includes('/jwks')) await new Promise((resolve) => setTimeout(resolve, 10));
  });
});
