import { dpopKey, dpopProof, type DpopKey } from '../helpers/dpop.js';
import {
  UNLIMITED,
  authorizeCode,
  challenges,
  json,
  mcpInitialize,
  registerClient,
  type OAuthErrorBody,
  type RegisteredClient,
  type TokenBody,
} from '../helpers/oauth-flow.js';
import { testAccounts, type TestPortal } from '../helpers/portal.js';
import { startTwoPortals, type TwoPortals } from '../helpers/two-portals.js';

/**
 * A DPoP proof's `jti` is used once by the portal, not once per process (RFC 9449 §11.1): two
 * portal processes on one Redis refuse a proof the other one accepted, at the token endpoint and
 * at `/mcp`.
 */
describe('a replayed DPoP proof, across two portal processes on one Redis', () => {
  let first: TestPortal;
  let second: TestPortal;
  let client: RegisteredClient;
  let key: DpopKey;
  let portals: TwoPortals;

  beforeAll(async () => {
    // One issuer for both, so a proof's htu names either.
    portals = await startTwoPortals({ login: { accounts: await testAccounts() }, rate_limits: UNLIMITED });
    ({ first, second } = portals);
    client = await registerClient(first.url);
    key = await dpopKey();
  });
  afterAll(() => portals?.close());

  /** Exchanges a fresh code (ALICE's) at `portal` with `proof` in the DPoP header. */
  async function exchangeWithProof(portal: TestPortal, proof: string): Promise<Response> {
    const authorized = await authorizeCode(first.url, client.client_id);
    return fetch(`${portal.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: authorized.code,
        code_verifier: authorized.verifier,
        redirect_uri: authorized.redirectUri,
        client_id: client.client_id,
      }),
    });
  }

  test('at /token: the proof that got a token at one process gets none at the other', async () => {
    const proof = await dpopProof(key, { htm: 'POST', htu: `${first.url}/token` });
    const accepted = await exchangeWithProof(first, proof);
    expect(accepted.status).toBe(200);
    expect((await json<TokenBody>(accepted)).token_type).toBe('DPoP');
    const replayed = await exchangeWithProof(second, proof);
    expect(replayed.status).toBe(400);
    expect((await json<OAuthErrorBody>(replayed)).error).toBe('invalid_dpop_proof');
  });

  test('at /mcp: a proof accepted by one process is refused by the other', async () => {
    const tokens = await json<TokenBody>(await exchangeWithProof(first, await dpopProof(key, { htm: 'POST', htu: `${first.url}/token` })));
    expect(tokens.token_type).toBe('DPoP');
    const headers = {
      authorization: `DPoP ${tokens.access_token}`,
      dpop: await dpopProof(key, { htm: 'POST', htu: `${first.url}/mcp`, accessToken: tokens.access_token }),
    };
    const accepted = await mcpInitialize(`${first.url}/mcp`, undefined, headers);
    expect(accepted.status).toBe(200);
    await accepted.text();
    const replayed = await mcpInitialize(`${second.url}/mcp`, undefined, headers);
    expect(replayed.status).toBe(401);
    expect((await json<OAuthErrorBody>(replayed)).error).toBe('invalid_dpop_proof');
    expect(challenges(replayed.headers.get('www-authenticate')).DPoP!.error).toBe('invalid_dpop_proof');
  });
});
