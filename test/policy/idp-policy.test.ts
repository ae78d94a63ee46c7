import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { connectIdpAgent, runBrowser, type IdpOAuthProvider } from '../helpers/idp-browser.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { authorizeUrl, pkce, registerClient, UNLIMITED } from '../helpers/oauth-flow.js';
import { startOidcIdp, type OidcIdp } from '../helpers/oidc-idp.js';
import { startTestPortal, type TestPortal } from '../helpers/portal.js';

/** The portal's token endpoint, refreshing as the agent would (RFC 6749 §6). */
async function refreshAt(portalUrl: string, provider: IdpOAuthProvider): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${portalUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: provider.tokens()!.refresh_token!,
      client_id: provider.clientInformation()!.client_id,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('per-upstream and per-tool policy for IdP people (real oidc-provider, real MCP upstream)', () => {
  let corp: OidcIdp;
  let recorder: RecordingServer;
  let portal: TestPortal;
  const agents: Client[] = [];

  beforeAll(async () => {
    corp = await startOidcIdp({ cookiePrefix: 'corp' });
    recorder = await startRecordingMcpServer();
    portal = await startTestPortal({
      document: {
        rate_limits: UNLIMITED,
        login: {
          builtin: false,
          idps: [
            {
              id: 'corp',
              issuer: corp.issuer,
              client_id: 'gatehouse',
              client_secret: 's',
              scopes: ['openid', 'email', 'profile', 'groups'],
              primary: true,
            },
          ],
        },
        upstreams: [
          {
            id: 'eng',
            title: 'Engineering',
            kind: 'mcp',
            url: recorder.url,
            access: { groups: ['eng'], idps: ['corp'] },
            tools: { allow_groups: { grow: ['ops'] }, deny_groups: { wait: ['interns'] } },
          },
          { id: 'sales', title: 'Sales CRM', kind: 'mcp', url: recorder.url, access: { groups: ['sales'] } },
        ],
      },
    });
    corp.register([
      {
        client_id: 'gatehouse',
        client_secret: 's',
        redirect_uris: [`${portal.url}/login/corp/callback`],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ]);
    corp.people.set('carol', { email: 'carol@corp.example', email_verified: true, name: 'Carol', groups: ['eng', 'ops'] });
    corp.people.set('dave', { email: 'dave@corp.example', email_verified: true, name: 'Dave', groups: ['eng', 'interns'] });
    corp.people.set('olga', { email: 'olga@corp.example', email_verified: true, name: 'Olga', groups: ['facilities'] });
  });
  afterAll(async () => {
    await Promise.allSettled(agents.map((a) => a.close()));
    await portal?.close();
    await recorder?.close();
    await corp?.close();
  });

  async function agentFor(login: string) {
    const agent = await connectIdpAgent(portal.url, [corp.issuer], { idpLogin: login });
    agents.push(agent.client);
    return agent;
  }
  const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();

  test('listing: each person sees only the upstreams and tools their groups allow', async () => {
    const carol = await agentFor('carol');
    expect(await names(carol.client)).toEqual(['eng__echo', 'eng__grow', 'eng__wait']);
    const dave = await agentFor('dave');
    // grow is only for ops; wait is denied to interns.
    expect(await names(dave.client)).toEqual(['eng__echo']);
  });

  test('calling: a tool or upstream the person may not use is a JSON-RPC error', async () => {
    const dave = await agentFor('dave');
    for (const name of ['eng__grow', 'eng__wait', 'sales__echo']) {
      const call = dave.client.callTool({ name, arguments: { label: 'x', message: 'x' } });
      await expect(call).rejects.toBeInstanceOf(McpError);
      await expect(call).rejects.toMatchObject({ code: expect.any(Number) });
    }
    const refused = await dave.client.callTool({ name: 'eng__grow', arguments: {} }).catch((error: McpError) => error);
    expect((refused as McpError).code).toBe(ErrorCode.InvalidParams);
    expect((await dave.client.callTool({ name: 'eng__echo', arguments: { message: 'ok' } })).content).toEqual([
      { type: 'text', text: 'ok' },
    ]);
  });

  test('consent: offers only allowed upstreams, and a person outside every rule is told why', async () => {
    const client = await registerClient(portal.url);
    const { challenge } = pkce();
    const carol = new FormBrowser(portal.url);
    await runBrowser(carol, `${portal.url}/login`, [portal.url, corp.issuer], { idpLogin: 'carol' });
    const page = await (
      await carol.follow(authorizeUrl(portal.url, client.client_id, challenge, { resource: `${portal.url}/mcp` }).href)
    ).text();
    expect(page).toContain('<li>Engineering</li>');
    expect(page).toContain('You do not have access to: Sales CRM (you are not in a group or on a list it is open to)');
    expect(page).toContain('value="allow"');

    const olga = new FormBrowser(portal.url);
    await runBrowser(olga, `${portal.url}/login`, [portal.url, corp.issuer], { idpLogin: 'olga' });
    const none = await (
      await olga.follow(authorizeUrl(portal.url, client.client_id, challenge, { resource: `${portal.url}/mcp` }).href)
    ).text();
    expect(none).toContain('There is nothing here you may grant');
    expect(none).toContain('Engineering (you are not in a group or on a list it is open to)');
    expect(none).not.toContain('value="allow"');
  });

  test('refresh: a person removed from a group at the IdP loses the upstream at the first refresh after they sign in again', async () => {
    corp.people.set('erin', { email: 'erin@corp.example', email_verified: true, name: 'Erin', groups: ['eng', 'sales'] });
    const erin = await agentFor('erin');
    expect(await names(erin.client)).toEqual(['eng__echo', 'eng__wait', 'sales__echo', 'sales__grow', 'sales__wait']);

    // Removed from eng at the IdP. Until the portal hears of it, a refresh keeps what she had.
    corp.people.set('erin', { email: 'erin@corp.example', email_verified: true, name: 'Erin', groups: ['sales'] });
    const stale = await refreshAt(portal.url, erin.provider);
    expect(stale.status).toBe(200);
    erin.provider.saveTokens(stale.body as never);

    // She signs in again (any browser): the portal stores her new claims; the next refresh applies them.
    await runBrowser(new FormBrowser(portal.url), `${portal.url}/login`, [portal.url, corp.issuer], { idpLogin: 'erin' });
    const fresh = await refreshAt(portal.url, erin.provider);
    expect(fresh.status).toBe(200);
    erin.provider.saveTokens(fresh.body as never);
    const [grant] = await portal.grants.listByPerson('corp:erin');
    expect(grant!.upstreamIds).toEqual(['sales']);
    expect(grant!.person.groups).toEqual(['sales']);

    const again = new McpClient({ name: 'agent', version: '1.0.0' });
    agents.push(again);
    await again.connect(new StreamableHTTPClientTransport(new URL(`${portal.url}/mcp`), { authProvider: erin.provider }));
    expect(await names(again)).toEqual(['sales__echo', 'sales__grow', 'sales__wait']);
  });

  test('refresh: claims older than claims_max_age are no longer trusted; the agent must send the person to sign in again', async () => {
    corp.people.set('finn', { email: 'finn@corp.example', email_verified: true, name: 'Finn', groups: ['eng'] });
    const finn = await agentFor('finn');
    // Age the claims past the 12h default, as if Finn had not signed in since: the stored record
    // has expired (its TTL is claims_max_age) and the grant's copy is as old as his last sign-in.
    await portal.store.delete('idp-person:{corp:finn}');
    const [grant] = await portal.grants.listByPerson('corp:finn');
    const key = `grant:{${grant!.id}}`;
    await portal.store.set(key, JSON.stringify({ ...grant, person: { ...grant!.person, claimsAt: Date.now() - 13 * 3600_000 } }));
    const refused = await refreshAt(portal.url, finn.provider);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
  });
});
