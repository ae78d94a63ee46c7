import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { startFakeIdp, type FakeIdp } from '../helpers/fake-oidc-idp.js';
import { runBrowser } from '../helpers/idp-browser.js';
import { UNLIMITED } from '../helpers/oauth-flow.js';
import { startTestPortal, type TestPortal } from '../helpers/portal.js';

/**
 * The operator configured the IdP's issuer, so the portal reaches its origin wherever it is. An
 * endpoint the IdP's discovery names on another origin is learned: inside the network (here the
 * same server as `localhost`), it is refused unless the operator allowed private addresses for
 * that IdP (`login.idps[].allow_private_addresses`).
 */
describe('IdP sign-in: endpoints on another origin inside the network', () => {
  let fake: FakeIdp;
  let strict: TestPortal;
  let allowing: TestPortal;
  const idp = (issuer: string, extra: Record<string, unknown> = {}) => ({
    id: 'fake',
    title: 'Fake IdP',
    issuer,
    client_id: 'gatehouse',
    client_secret: 'fake-secret',
    ...extra,
  });

  beforeAll(async () => {
    fake = await startFakeIdp({ clientId: 'gatehouse', clientSecret: 'fake-secret' });
    fake.misbehave = { endpointsOrigin: fake.issuer.replace('127.0.0.1', 'localhost') };
    strict = await startTestPortal({ document: { rate_limits: UNLIMITED, login: { builtin: false, idps: [idp(fake.issuer)] } } });
    allowing = await startTestPortal({
      document: { rate_limits: UNLIMITED, login: { builtin: false, idps: [idp(fake.issuer, { allow_private_addresses: true })] } },
    });
  });
  afterAll(async () => {
    await strict?.close();
    await allowing?.close();
    await fake?.close();
  });

  test('bad input: by default the token endpoint is never called; the person gets a page and no session', async () => {
    const browser = new FormBrowser(strict.url);
    fake.requests.length = 0;
    const outcome = await runBrowser(browser, `${strict.url}/login/fake`, [strict.url, fake.issuer], { idpLogin: 'frank' });
    expect(outcome.status).toBe(502);
    expect(browser.cookies.has('gatehouse_session')).toBe(false);
    expect(fake.requests).not.toContain('/token');
    const failure = strict.logs.lines.filter((l) => l.event === 'login_failed').at(-1)!;
    // Refused before anything is sent: plain http (and a private address) on an origin nobody configured.
    expect(String(failure.msg)).toMatch(/^(not_https|blocked_address)/);
  });

  test('allowed for that IdP: the person signs in', async () => {
    const browser = new FormBrowser(allowing.url);
    const outcome = await runBrowser(browser, `${allowing.url}/login/fake`, [allowing.url, fake.issuer], { idpLogin: 'frank' });
    expect(outcome.status).toBe(200);
    expect(browser.cookies.has('gatehouse_session')).toBe(true);
  });
});
