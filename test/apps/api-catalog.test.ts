import { accessTokenFor } from '../helpers/app-token.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

type Linkset = { linkset: Array<{ anchor: string } & Record<string, Array<{ href: string; type?: string }>>> };

describe('RFC 9727 API catalog', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'tools', kind: 'mcp', url: 'http://127.0.0.1:9/mcp' },
          { id: 'wiki', kind: 'http', url: 'http://127.0.0.1:9', host: 'wiki.localhost' },
          { id: 'secret', kind: 'http', url: 'http://127.0.0.1:9', access: { groups: ['eng'] }, openapi: '/openapi.json' },
        ],
      },
    });
  });
  afterAll(() => portal.close());

  const anchors = (body: Linkset) => body.linkset.map((item) => item.anchor);

  test('anonymous callers get the aggregate and the apps open to everyone, as a linkset', async () => {
    const res = await fetch(`${portal.url}/.well-known/api-catalog`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/linkset+json; profile="https://www.rfc-editor.org/info/rfc9727"');
    expect(res.headers.get('link')).toContain('rel="api-catalog"');
    const body = (await res.json()) as Linkset;
    expect(anchors(body)).toEqual([`${portal.url}/mcp`, `${portal.url}/mcp/tools`, `${portal.url}/apps/wiki`]);
    for (const item of body.linkset) {
      const path = new URL(item.anchor).pathname;
      expect(item['service-meta']).toEqual([
        expect.objectContaining({ href: `${portal.url}/.well-known/oauth-protected-resource${path}`, type: 'application/json' }),
      ]);
    }
    const wiki = body.linkset[2]!;
    expect(wiki['service-doc']).toEqual([expect.objectContaining({ href: `${portal.url}/apps/wiki/`, type: 'text/html' })]);
    expect(wiki.alternate).toEqual([expect.objectContaining({ href: 'http://wiki.localhost/' })]);
    // Every service-meta link resolves to the resource's RFC 9728 metadata.
    for (const item of body.linkset) {
      const metadata = (await (await fetch(item['service-meta']![0]!.href)).json()) as { resource: string };
      expect(metadata.resource).toBe(item.anchor);
    }
  });

  test("a token's person sees what they may use, with service-desc for a declared OpenAPI document", async () => {
    const token = await accessTokenFor(portal.url, ALICE, `${portal.url}/mcp`);
    const body = (await (
      await fetch(`${portal.url}/.well-known/api-catalog`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as Linkset;
    const secret = body.linkset.find((item) => item.anchor === `${portal.url}/apps/secret`);
    expect(secret?.['service-desc']).toEqual([{ href: `${portal.url}/apps/secret/openapi.json`, type: 'application/openapi+json' }]);
  });

  test('a session counts too; a person outside the access rules does not see the app; a bad token gets 401', async () => {
    const browser = new FormBrowser(portal.url);
    await browser.signIn(await browser.get(`${portal.url}/login`), BOB);
    const res = await fetch(`${portal.url}/.well-known/api-catalog`, {
      headers: { cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    expect(anchors((await res.json()) as Linkset)).not.toContain(`${portal.url}/apps/secret`);
    const bad = await fetch(`${portal.url}/.well-known/api-catalog`, { headers: { authorization: 'Bearer not.a.token' } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('resource_metadata=');
  });
});
