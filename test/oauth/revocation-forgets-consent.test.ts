import { decodeJwt } from 'jose';
import { adminDocument, adminFetch, adminToken } from '../helpers/admin.js';
import { type FormBrowser, hiddenFields } from '../helpers/browser-form-client.js';
import { startMetadataDocumentHost, type MetadataDocumentHost } from '../helpers/metadata-document-host.js';
import {
  REDIRECT_URI,
  authorizeCode,
  authorizeUrl,
  exchangeCode,
  json,
  pkce,
  refresh,
  registerClient,
  type RegisteredClient,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { startTestPortal, type TestPortal } from '../helpers/portal.js';
import { testClock } from '../helpers/test-clock.js';

/**
 * A revoked grant takes the consent it rested on with it: whoever revoked it (the person, an
 * admin, reuse or replay detection, deleting the client), the client's next `/authorize` for that
 * person shows the consent page again instead of being approved from memory.
 */
describe('revoking a grant forgets the consent it rested on', () => {
  let host: MetadataDocumentHost;
  let portal: TestPortal;
  const clock = testClock();

  beforeAll(async () => {
    host = await startMetadataDocumentHost();
    portal = await startTestPortal({
      clock,
      document: await adminDocument({
        tokens: { refresh_reuse_grace: '1s' },
        clients: { metadata_documents: { allow_private_addresses: true } },
      }),
      metadataDocumentCa: host.cert,
    });
  });
  afterAll(async () => {
    await portal?.close();
    await host?.close();
  });

  /** Where the signed-in person's next `/authorize` by `clientId` leads: the consent page, or straight back with a code. */
  async function nextAuthorize(browser: FormBrowser, clientId: string): Promise<'consent page' | 'approved from memory'> {
    const res = await browser.follow(authorizeUrl(portal.url, clientId, pkce().challenge).href);
    const location = res.headers.get('location');
    if (location && new URL(location).searchParams.has('code')) return 'approved from memory';
    const page = await res.text();
    if (res.status === 200 && page.includes('action="/consent"')) return 'consent page';
    throw new Error(`unexpected answer to /authorize: ${res.status} ${location ?? page.slice(0, 200)}`);
  }

  /** ALICE authorizes `client` in a fresh browser and the code is exchanged; the second authorization is approved from memory. */
  async function consented(client: RegisteredClient): Promise<{ browser: FormBrowser; tokens: TokenBody; grantId: string }> {
    const authorized = await authorizeCode(portal.url, client.client_id);
    const res = await exchangeCode(portal.url, client, authorized);
    expect(res.status).toBe(200);
    const tokens = await json<TokenBody>(res);
    expect(await nextAuthorize(authorized.browser, client.client_id)).toBe('approved from memory');
    return { browser: authorized.browser, tokens, grantId: decodeJwt(tokens.access_token).grant_id as string };
  }

  test('the person revokes the agent on the connections page', async () => {
    const client = await registerClient(portal.url);
    const { browser, grantId } = await consented(client);
    const { csrf } = hiddenFields(await (await browser.get(`${portal.url}/connections`)).text());
    expect((await browser.post(`${portal.url}/connections/revoke`, { csrf: csrf!, grant: grantId })).status).toBe(303);
    expect(await nextAuthorize(browser, client.client_id)).toBe('consent page');
  });

  test('an admin revokes the grant through the admin API', async () => {
    const client = await registerClient(portal.url);
    const { browser, grantId } = await consented(client);
    const res = await adminFetch(portal.url, `/grants/${grantId}`, { method: 'DELETE', token: await adminToken(portal.url) });
    expect(res.status).toBe(204);
    expect(await nextAuthorize(browser, client.client_id)).toBe('consent page');
  });

  test('an admin revokes the grant on the admin page', async () => {
    const client = await registerClient(portal.url);
    const { browser, grantId } = await consented(client);
    const { csrf } = hiddenFields(await (await browser.get(`${portal.url}/admin`)).text());
    expect((await browser.post(`${portal.url}/admin/grants/revoke`, { csrf: csrf!, grant: grantId })).status).toBe(303);
    expect(await nextAuthorize(browser, client.client_id)).toBe('consent page');
  });

  test('reuse of a spent refresh token revokes the grant', async () => {
    const client = await registerClient(portal.url);
    const { browser, tokens } = await consented(client);
    expect(tokens.refresh_token).toBeDefined();
    expect((await refresh(portal.url, client, tokens.refresh_token!)).status).toBe(200);
    clock.advance(1_200);
    const reused = await refresh(portal.url, client, tokens.refresh_token!);
    expect((await json<{ error: string }>(reused)).error).toBe('invalid_grant');
    expect(await nextAuthorize(browser, client.client_id)).toBe('consent page');
  });

  test('a replayed authorization code revokes the grant it produced', async () => {
    const client = await registerClient(portal.url);
    const authorized = await authorizeCode(portal.url, client.client_id);
    expect((await exchangeCode(portal.url, client, authorized)).status).toBe(200);
    expect(await nextAuthorize(authorized.browser, client.client_id)).toBe('approved from memory');
    const replay = await exchangeCode(portal.url, client, authorized);
    expect((await json<{ error: string }>(replay)).error).toBe('invalid_grant');
    expect(await nextAuthorize(authorized.browser, client.client_id)).toBe('consent page');
  });

  test('an admin deletes the client (a metadata-document client keeps its id, and must ask again)', async () => {
    const clientId = host.publish('/deleted-agent.json', {
      client_name: 'Hosted Agent',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
    });
    const client: RegisteredClient = {
      client_id: clientId,
      registration_access_token: '',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'none',
    };
    const { browser } = await consented(client);
    const res = await adminFetch(portal.url, `/clients/${encodeURIComponent(clientId)}`, {
      method: 'DELETE',
      token: await adminToken(portal.url),
    });
    expect(res.status).toBe(204);
    expect(await nextAuthorize(browser, clientId)).toBe('consent page');
  });

  test('the client deletes itself (RFC 7592): its grants and the consents they rested on are gone', async () => {
    const client = await registerClient(portal.url);
    const { tokens } = await consented(client);
    const person = (await portal.grants.find(decodeJwt(tokens.access_token).grant_id as string))!.person;
    const res = await fetch(`${portal.url}/register/${client.client_id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${client.registration_access_token}` },
    });
    expect(res.status).toBe(204);
    expect(await portal.grants.listByClient(client.client_id)).toEqual([]);
    expect(await portal.consents.consentedBefore(person.id, client.client_id)).toBe(false);
  });
});
