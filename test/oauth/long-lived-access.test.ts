import { FormBrowser } from '../helpers/browser-form-client.js';
import {
  authorizeUrl,
  exchangeCode,
  json,
  pendingConsent,
  pkce,
  registerClient,
  startOAuthPortal,
  type RegisteredClient,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { ALICE, type TestPortal } from '../helpers/portal.js';

const WORDS = 'keeps access while you are away, until you revoke it';

/**
 * A refresh token is never issued silently (OAuth 2.1 §4.3; MCP "Refresh Tokens"): a client
 * that asks for `offline_access` gets one when the person allows the request; a client that
 * never asks (older MCP clients) gets one only when the consent page offered long-lived access
 * in plain words and the person kept it. A remembered consent keeps the person's last choice.
 */
describe('long-lived access (refresh tokens)', () => {
  let portal: TestPortal;

  beforeAll(async () => {
    portal = await startOAuthPortal();
  });
  afterAll(() => portal.close());

  /** Starts an authorization of `client` as ALICE in `browser` and answers the consent page with `fields`. */
  async function consent(
    client: RegisteredClient,
    browser: FormBrowser,
    fields: Record<string, string>,
    params: Record<string, string> = {},
  ): Promise<TokenBody> {
    const pending = await pendingConsent(portal.url, client.client_id, browser, ALICE, params);
    const res = await browser.post(`${portal.url}/consent`, { request: pending.request, csrf: pending.csrf, decision: 'allow', ...fields });
    return exchange(client, res, pending.verifier);
  }

  /** The tokens for the code a consent (or an approval from memory) sent back. */
  async function exchange(client: RegisteredClient, res: Response, verifier: string): Promise<TokenBody> {
    expect(res.status).toBe(303);
    const callback = new URL(res.headers.get('location')!);
    const tokens = await exchangeCode(portal.url, client, {
      code: callback.searchParams.get('code')!,
      verifier,
      redirectUri: `${callback.origin}${callback.pathname}`,
    });
    expect(tokens.status).toBe(200);
    return json<TokenBody>(tokens);
  }

  /** The consent page ALICE sees for a new authorization of `client`. */
  async function consentPage(client: RegisteredClient, params: Record<string, string> = {}): Promise<string> {
    const browser = new FormBrowser(portal.url);
    await browser.signIn(await browser.get(`${portal.url}/login`), ALICE);
    return (await browser.follow(authorizeUrl(portal.url, client.client_id, pkce().challenge, params).href)).text();
  }

  test('the authorization server metadata lists offline_access', async () => {
    const metadata = await json<{ scopes_supported: string[] }>(await fetch(`${portal.url}/.well-known/oauth-authorization-server`));
    expect(metadata.scopes_supported).toContain('offline_access');
  });

  test('a client that asks for offline_access gets a refresh token once the person allows', async () => {
    const client = await registerClient(portal.url);
    const page = await consentPage(client, { scope: 'mcp offline_access' });
    expect(page).toContain('keep access while you are away, until you revoke it');
    const tokens = await consent(client, new FormBrowser(portal.url), {}, { scope: 'mcp offline_access' });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.scope).toBe('mcp offline_access');
  });

  test('a client that does not ask is offered long-lived access in plain words, checked and visible', async () => {
    const client = await registerClient(portal.url);
    const page = await consentPage(client);
    expect(page).toContain(WORDS);
    expect(page).toMatch(/<input type="checkbox" id="long-lived" name="long_lived" value="yes" checked[ >]/);
    expect(page).toMatch(/<label for="long-lived"[ >]/);
  });

  test('a client that does not ask, with the person declining long-lived access, gets no refresh token', async () => {
    const client = await registerClient(portal.url);
    const tokens = await consent(client, new FormBrowser(portal.url), {});
    expect(tokens.access_token).toEqual(expect.any(String));
    expect(tokens).not.toHaveProperty('refresh_token');
  });

  test('a client that does not ask, with the person allowing long-lived access, gets a refresh token', async () => {
    const client = await registerClient(portal.url);
    const tokens = await consent(client, new FormBrowser(portal.url), { long_lived: 'yes' });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.scope).toBe('mcp');
  });

  test('a remembered consent keeps the choice the person made last time', async () => {
    for (const [fields, refreshable] of [
      [{}, false],
      [{ long_lived: 'yes' }, true],
    ] as const) {
      const client = await registerClient(portal.url);
      const browser = new FormBrowser(portal.url);
      expect(!!(await consent(client, browser, fields)).refresh_token).toBe(refreshable);
      const { verifier, challenge } = pkce();
      const again = await browser.follow(authorizeUrl(portal.url, client.client_id, challenge).href);
      expect(!!(await exchange(client, again, verifier)).refresh_token).toBe(refreshable);
    }
  });

  test('a client not registered for refresh tokens is offered no long-lived access, and gets none', async () => {
    const client = await registerClient(portal.url, { grant_types: ['authorization_code'] });
    expect(await consentPage(client)).not.toContain(WORDS);
    const tokens = await consent(client, new FormBrowser(portal.url), { long_lived: 'yes' });
    expect(tokens).not.toHaveProperty('refresh_token');
  });
});
