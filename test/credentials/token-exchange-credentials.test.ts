import { decodeJwt, exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { hashPassword } from '../../portal/crypto/password.js';
import { adminDocument, adminFetch, adminToken } from '../helpers/admin.js';
import { authorizedToken } from '../helpers/agent.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { toolText } from '../helpers/mcp-wire.js';
import { UNLIMITED } from '../helpers/oauth-flow.js';
import { ALICE, startTestPortal, TEST_PASSWORD_COST, type TestPortal } from '../helpers/portal.js';

const STS_SECRET = 'gate-a-secret-0123456789abcdef';

/**
 * `credentials: { type: token-exchange }`: portal A exchanges the person's portal assertion at
 * portal B's token endpoint (RFC 8693; B trusts A as an issuer) for a B token, caches it per person,
 * and calls B's MCP endpoint with it; B relays to a real SDK MCP server as the person `gate-a:…`.
 * A client secret or a private key (private_key_jwt at B) authenticates A. A failed exchange is a
 * tool error naming the upstream.
 */
describe('token-exchange upstream credentials, with a second portal as the STS', () => {
  let upstream: RecordingServer;
  let gateA: TestPortal;
  let gateB: TestPortal;
  let agent: Client;

  beforeAll(async () => {
    upstream = await startRecordingMcpServer();
    const key = await generateKeyPair('ES256', { extractable: true });
    gateA = await startTestPortal({
      document: await adminDocument(),
      env: { GATE_A_KEY: await exportPKCS8(key.privateKey), GATE_A_SECRET: STS_SECRET, GATE_A_WRONG_SECRET: 'not-the-secret' },
    });
    gateB = await startTestPortal({
      document: {
        rate_limits: UNLIMITED,
        upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, access: { groups: ['eng'] } }],
        token_exchange: { trusted_issuers: [{ id: 'gate-a', issuer: gateA.url, jwks_uri: `${gateA.url}/.well-known/jwks.json` }] },
        service_clients: [
          { client_id: 'gate-a-key', jwks: { keys: [{ ...(await exportJWK(key.publicKey)), alg: 'ES256' }] }, upstreams: ['notes'] },
          { client_id: 'gate-a-secret', secret_hash: await hashPassword(STS_SECRET, TEST_PASSWORD_COST), upstreams: ['notes'] },
        ],
      },
    });
    // A learns of B through its admin API: each portal's URL is known only once it listens.
    const admin = await adminToken(gateA.url);
    const exchangeAt = (clientId: string, secret: Record<string, string>) => ({
      type: 'token-exchange',
      token_endpoint: `${gateB.url}/token`,
      audience: `${gateB.url}/mcp/notes`,
      client_id: clientId,
      ...secret,
    });
    for (const [id, credentials] of [
      ['remote', exchangeAt('gate-a-key', { private_key_env: 'GATE_A_KEY' })],
      ['remote-secret', exchangeAt('gate-a-secret', { client_secret_env: 'GATE_A_SECRET' })],
      ['refused', exchangeAt('gate-a-secret', { client_secret_env: 'GATE_A_WRONG_SECRET' })],
    ] as const) {
      const res = await adminFetch(gateA.url, '/upstreams', {
        token: admin,
        method: 'POST',
        body: { id, kind: 'mcp', url: `${gateB.url}/mcp/notes`, credentials },
      });
      expect(res.status).toBe(201);
    }
    const token = await authorizedToken(gateA.url, ALICE, '/mcp');
    agent = new Client({ name: 'agent-at-a', version: '1.0.0' });
    await agent.connect(
      new StreamableHTTPClientTransport(new URL(`${gateA.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
    );
  });
  afterAll(async () => {
    await agent?.close();
    await Promise.all([gateA?.close(), gateB?.close(), upstream?.close()]);
  });

  const exchangesAtB = (clientId: string) =>
    gateB.logs.lines.filter((l) => l.event === 'token_issued' && l.grant === 'token_exchange' && l.clientId === clientId).length;

  test("A exchanges the person's assertion at B (private_key_jwt), caches the token, and B's upstream sees the person of A", async () => {
    expect(toolText(await agent.callTool({ name: 'remote__echo', arguments: { message: 'via the STS' } }))).toBe('via the STS');
    const seen = decodeJwt(
      upstream.requests
        .filter((r) => r.headers.authorization)
        .at(-1)!
        .headers.authorization!.replace(/^Bearer /, ''),
    );
    expect(seen).toMatchObject({
      iss: gateB.url,
      sub: 'gate-a:local:alice',
      email: 'alice@example.com',
      groups: ['eng'],
      act: { sub: 'gate-a-key' },
    });
    // One exchange for this person and agent (when the aggregate first listed B's tools), then the cached token.
    expect(exchangesAtB('gate-a-key')).toBe(1);
    expect(toolText(await agent.callTool({ name: 'remote__echo', arguments: { message: 'again' } }))).toBe('again');
    expect(exchangesAtB('gate-a-key')).toBe(1);
  });

  test('a client secret works as well', async () => {
    expect(toolText(await agent.callTool({ name: 'remote-secret__echo', arguments: { message: 'secret client' } }))).toBe('secret client');
  });

  test('a refused exchange is a tool error naming the upstream, with no credential in it', async () => {
    const result = await agent
      .callTool({ name: 'refused__echo', arguments: { message: 'x' } })
      .catch((error: Error) => ({ isError: true, content: [{ type: 'text', text: error.message }] }));
    const text = JSON.stringify(result);
    expect(result).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: expect.stringContaining('could not obtain a credential for upstream "refused"') }],
    });
    expect(text).not.toMatch(/eyJ|not-the-secret|gate-a-secret-0123/);
    expect(gateB.logs.lines.some((l) => l.errorCode === 'invalid_client')).toBe(true);
  });
});
