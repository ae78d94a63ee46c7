import { decodeJwt } from 'jose';
import { accessTokenFor } from '../helpers/app-token.js';
import { readEcho, startTestUpstream, type TestUpstream } from '../helpers/http-app-upstream.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

/**
 * What the app proxy keeps per process so that an agent's repeated requests cost little (the
 * verified access token, the portal assertion for the upstream) must never outlive a revocation
 * nor cross from one person to another.
 */
describe('app proxy: what is kept between requests', () => {
  let portal: TestPortal;
  let wiki: TestUpstream;

  beforeAll(async () => {
    wiki = await startTestUpstream();
    portal = await startTestPortal({
      document: { login: { accounts: await testAccounts() }, upstreams: [{ id: 'wiki', kind: 'http', url: wiki.url }] },
    });
  });
  afterAll(async () => {
    await portal.close();
    await wiki.close();
  });

  const assertionFor = async (token: string) => {
    const res = await fetch(`${portal.url}/apps/wiki/echo`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return (await readEcho(res)).headers['gatehouse-assertion']!;
  };

  test('each person gets an assertion of their own, the same one while it is fresh', async () => {
    const resource = `${portal.url}/apps/wiki`;
    const [aliceToken, bobToken] = [await accessTokenFor(portal.url, ALICE, resource), await accessTokenFor(portal.url, BOB, resource)];
    const alice = [await assertionFor(aliceToken), await assertionFor(aliceToken)];
    const bob = [await assertionFor(bobToken), await assertionFor(bobToken)];
    expect(alice[1]).toBe(alice[0]);
    expect(bob[1]).toBe(bob[0]);
    expect(bob[0]).not.toBe(alice[0]);
    expect(decodeJwt(alice[0]!)).toMatchObject({ sub: decodeJwt(aliceToken).sub, email: 'alice@example.com' });
    expect(decodeJwt(bob[0]!)).toMatchObject({ sub: decodeJwt(bobToken).sub, email: 'bob@example.com' });
    expect(decodeJwt(bob[0]!).sub).not.toBe(decodeJwt(alice[0]!).sub);
  });

  test('a token already verified by this process stops working the moment its grant is revoked', async () => {
    const token = await accessTokenFor(portal.url, ALICE, `${portal.url}/apps/wiki`);
    await assertionFor(token);
    const seen = wiki.seen.length;
    expect(await portal.grants.revoke(decodeJwt(token).grant_id as string)).toBe(true);

    const refused = await fetch(`${portal.url}/apps/wiki/echo`, { headers: { authorization: `Bearer ${token}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_token');
    expect(wiki.seen.length).toBe(seen);
  });
});
