import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { startRecordingMcpServer, startRawServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { connectInBrowser, startOAuthUpstream, storedConnections, type OAuthUpstream } from '../helpers/oauth-upstream.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { ConfigError, resolveConfig } from '../../portal/config/load.js';

const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;

describe('oauth upstream: bad input', () => {
  let upstream: OAuthUpstream;
  let portal: TestPortal;

  beforeAll(async () => {
    upstream = await startOAuthUpstream();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'notes', kind: 'mcp', url: upstream.url, credentials: { type: 'oauth' } }],
      },
    });
  });
  afterAll(async () => {
    await portal?.close();
    await upstream?.close();
  });

  /** Alice's browser, signed in, with a connect started: the upstream's redirect back to the portal. */
  async function startedConnect(person = ALICE): Promise<{ browser: FormBrowser; callback: URL }> {
    const browser = new FormBrowser(portal.url);
    const started = await browser.signIn(await browser.follow(`${portal.url}/connect/notes`), person);
    const back = await fetch(started.headers.get('location')!, { redirect: 'manual' });
    return { browser, callback: new URL(back.headers.get('location')!) };
  }

  test('a forged state is refused with a page, and nothing is stored', async () => {
    const { browser, callback } = await startedConnect();
    callback.searchParams.set('state', 'forged-state-value');
    const res = await browser.get(callback.href);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('expired or was not issued');
    expect(await storedConnections(portal, 'local:alice')).toEqual([]);
  });

  test("another person's pending connect is refused, stores nothing, and leaves the owner's connect intact", async () => {
    const { browser: alice, callback } = await startedConnect(ALICE);
    const bob = new FormBrowser(portal.url);
    await bob.signIn(await bob.follow(`${portal.url}/login`), BOB);
    const res = await bob.get(callback.href);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('started by someone else');
    expect(await storedConnections(portal, 'local:bob')).toEqual([]);
    expect(await storedConnections(portal, 'local:alice')).toEqual([]);
    // Alice's own browser still completes it.
    const done = await alice.follow(callback.href);
    expect(done.status).toBe(200);
    expect(await storedConnections(portal, 'local:alice')).toEqual(['notes']);
    // And the state is single-use.
    expect((await alice.get(callback.href)).status).toBe(400);
  });

  test.each([
    ['an access token with a line break', { access_token: 'abc\r\nX-Injected: 1', token_type: 'bearer', expires_in: 60 }],
    ['no access token', { token_type: 'bearer', expires_in: 60 }],
    ['a token type that is not bearer', { access_token: 'abc', token_type: 'mac', expires_in: 60 }],
    ['a negative lifetime', { access_token: 'abc', token_type: 'bearer', expires_in: -5 }],
  ])('an authorization server that answers %s: an error page, nothing stored', async (_label, body) => {
    upstream.controls.malformedTokenResponse = body;
    try {
      const res = await connectInBrowser(new FormBrowser(portal.url), 'notes', BOB);
      expect(res.status).toBe(502);
      expect(await res.text()).toContain('Nothing was saved');
      expect(await storedConnections(portal, 'local:bob')).toEqual([]);
    } finally {
      upstream.controls.malformedTokenResponse = undefined;
    }
  });

  test('an upstream that answers 401 forever: one refresh, one retry, then the re-connect path (no loop)', async () => {
    const agent: Agent = await connectAgent(portal.url, BOB);
    try {
      expect((await connectInBrowser(agent.provider.browser, 'notes')).status).toBe(200);
      upstream.controls.always401 = true;
      const mcpBefore = upstream.requests.filter((r) => r.path === '/mcp').length;
      const refreshesBefore = upstream.tokenCalls.refresh_token;
      const result = (await agent.client.callTool({ name: 'notes__echo', arguments: { message: 'x' } })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(text(result)).toContain('connect it again');
      expect(upstream.tokenCalls.refresh_token).toBe(refreshesBefore + 1);
      // The first request and its one retry (the connection opens on this call: initialize is the request).
      expect(upstream.requests.filter((r) => r.path === '/mcp').length - mcpBefore).toBe(2);
    } finally {
      upstream.controls.always401 = false;
      await agent.client.close();
    }
  });

  test('/connect for an upstream that is not an oauth upstream is a 404 page', async () => {
    const browser = new FormBrowser(portal.url);
    const res = await browser.get(`${portal.url}/connect/nothing-here`);
    expect(res.status).toBe(404);
  });
});

describe('static credentials and credential configuration errors', () => {
  let recorder: RecordingServer;
  let refusing: RecordingServer;
  let portal: TestPortal;
  let agent: Agent;

  beforeAll(async () => {
    recorder = await startRecordingMcpServer();
    refusing = await startRawServer((_req, res) => {
      res
        .writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' })
        .end('{"error":"invalid_token"}');
    });
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          {
            id: 'legacy',
            kind: 'mcp',
            url: recorder.url,
            credentials: { type: 'static', value_env: 'LEGACY_API_KEY', header: 'X-Api-Key' },
          },
          { id: 'strict', kind: 'mcp', url: refusing.url },
        ],
      },
      env: { LEGACY_API_KEY: 'service-key-123' },
    });
    agent = await connectAgent(portal.url, ALICE);
  });
  afterAll(async () => {
    await agent?.client.close();
    await portal?.close();
    await recorder?.close();
    await refusing?.close();
  });

  test('static: the secret from the environment goes in its header, with the person as Gatehouse-Assertion', async () => {
    const result = (await agent.client.callTool({ name: 'legacy__echo', arguments: { message: 'hi' } })) as CallToolResult;
    expect(result).toMatchObject({ content: [{ text: 'hi' }] });
    const last = recorder.requests.at(-1)!;
    expect(last.headers['x-api-key']).toBe('service-key-123');
    const assertion = String(last.headers['gatehouse-assertion']);
    const claims = JSON.parse(Buffer.from(assertion.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: 'local:alice', aud: recorder.url, iss: portal.url });
    for (const request of recorder.requests) expect(JSON.stringify(request.headers)).not.toContain(agent.accessToken());
  });

  test('a 401 on a portal-jwt upstream is logged as a configuration error and answered as a tool error, without retries', async () => {
    const before = refusing.requests.length;
    const result = (await agent.client.callTool({ name: 'strict__anything', arguments: {} })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('configuration problem');
    expect(refusing.requests.length - before).toBe(1);
    const logged = portal.logs.lines.find((l) => l.event === 'upstream_credential_rejected');
    expect(logged).toMatchObject({ upstream: 'strict', credentials: 'portal-jwt', level: 50 });
  });

  test('a missing static environment variable stops start-up naming the key and the variable', () => {
    const document = {
      upstreams: [
        { id: 'legacy', kind: 'mcp', url: 'http://127.0.0.1:1/mcp', credentials: { type: 'static', value_env: 'NOT_SET_ANYWHERE' } },
      ],
    };
    expect(() => resolveConfig(document, { GATEHOUSE_SECRET: 'x'.repeat(32) }, 'test')).toThrow(ConfigError);
    expect(() => resolveConfig(document, { GATEHOUSE_SECRET: 'x'.repeat(32) }, 'test')).toThrow(
      'config: upstreams[0].credentials.value_env: environment variable NOT_SET_ANYWHERE is not set',
    );
  });

  test.each([
    [{ type: 'static' }, 'upstreams[0].credentials.value_env: is required for type static'],
    [{ type: 'portal-jwt', value_env: 'X' }, 'upstreams[0].credentials.value_env: is only for type static'],
    [{ type: 'portal-jwt', client_id: 'x' }, 'upstreams[0].credentials.client_id: is only for type oauth'],
    [{ type: 'oauth', client_secret: 's' }, 'upstreams[0].credentials.client_id: is required with client_secret'],
    [{ type: 'oauth', scopes: ['a b'] }, 'upstreams[0].credentials.scopes[0]: must be a scope token'],
    [{ type: 'static', value_env: 'X', header: 'Bad Header' }, 'upstreams[0].credentials.header: must be an HTTP header name'],
  ])('credentials %j is refused: %s', (credentials, message) => {
    const document = { upstreams: [{ id: 'u', kind: 'mcp', url: 'http://127.0.0.1:1/mcp', credentials }] };
    expect(() => resolveConfig(document, { GATEHOUSE_SECRET: 'x'.repeat(32), X: 'v' }, 'test')).toThrow(message);
  });

  test('oauth on a stdio upstream is refused', () => {
    const document = { upstreams: [{ id: 'u', kind: 'mcp', command: ['node'], credentials: { type: 'oauth' } }] };
    expect(() => resolveConfig(document, { GATEHOUSE_SECRET: 'x'.repeat(32) }, 'test')).toThrow(
      'upstreams[0].credentials.type: oauth needs an upstream reached by url',
    );
  });
});
