import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connectAgent, type Agent } from '../helpers/agent.js';
import { adminDocument, adminFetch, adminToken, eventually } from '../helpers/admin.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { cookieHeader } from '../helpers/oauth-flow.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { ALICE, BOB, startTestPortal, type TestPortal } from '../helpers/portal.js';
import { createTestRedisStore, subscriberCount, testKeyPrefix } from '../helpers/redis.js';

/** Polls (50 ms apart) for a change to reach the other process by pub/sub: generous, as the machine may be busy. */
const PUB_SUB_TRIES = 300;

interface ErrorBody {
  error: string;
  error_description: string;
}

describe('admin API on two portal processes sharing one Redis', () => {
  let configured: RecordingServer;
  let added: RecordingServer;
  let first: TestPortal;
  let second: TestPortal;
  let token: string;
  const keyPrefix = testKeyPrefix();
  const cleanups: Array<() => Promise<void>> = [];
  const agents: Agent[] = [];
  /** The admin API's change announcements: both processes listen. */
  const listeners = async () => `${await subscriberCount(`${keyPrefix}upstreams:changed`)} processes subscribed to upstream changes`;

  beforeAll(async () => {
    configured = await startRecordingMcpServer();
    added = await startRecordingMcpServer();
    const stores = [await createTestRedisStore(keyPrefix), await createTestRedisStore(keyPrefix)];
    cleanups.push(...stores.map((s) => s.cleanup));
    const document = await adminDocument({ upstreams: [{ id: 'configured', kind: 'mcp', url: configured.url }] });
    first = await startTestPortal({ document, store: stores[0]!.store, env: { SPLIT_API_KEY: 'secret\r\nX-Injected: 1' } });
    second = await startTestPortal({ document, store: stores[1]!.store, env: { PUBLIC_URL: first.url } });
    token = await adminToken(first.url);
  });
  afterAll(async () => {
    for (const agent of agents) await agent.client.close().catch(() => {});
    await second?.close();
    await first?.close();
    for (const cleanup of cleanups) await cleanup();
    await configured?.close();
    await added?.close();
  });

  test('an admin token lists the config-file upstreams as read-only', async () => {
    const res = await adminFetch(first.url, '/upstreams', { token });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { upstreams: Array<{ id: string; source: string; read_only: boolean }> };
    expect(body.upstreams).toEqual([expect.objectContaining({ id: 'configured', source: 'config', read_only: true })]);
    expect(await (await adminFetch(first.url, '/me', { token })).json()).toMatchObject({ person: 'local:alice', via: 'bearer' });
  });

  test('an upstream added on one process is served by the other, without a restart', async () => {
    const res = await adminFetch(first.url, '/upstreams', {
      token,
      method: 'POST',
      body: { id: 'added', kind: 'mcp', url: added.url, title: 'Added at runtime' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/admin/api/v1/upstreams/added');
    // The second process learns of it through pub/sub.
    await eventually(async () => {
      const list = (await (await adminFetch(second.url, '/upstreams', { token })).json()) as { upstreams: Array<{ id: string }> };
      return list.upstreams.some((u) => u.id === 'added') ? true : undefined;
    }, PUB_SUB_TRIES);
    // An agent served entirely by the second process uses the new upstream.
    const toSecond: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      return fetch(`${second.url}${url.pathname}${url.search}`, init);
    };
    const agent = await connectAgent(first.url, ALICE, { fetch: toSecond });
    agents.push(agent);
    const { tools } = await agent.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['configured__echo', 'added__echo']));
    const result = (await agent.client.callTool({
      name: 'added__echo',
      arguments: { message: 'hello from the second process' },
    })) as CallToolResult;
    expect(result.content[0]).toMatchObject({ text: 'hello from the second process' });
    expect(added.requests.length).toBeGreaterThan(0);
  });

  test('an invalid upstream definition is 400 naming the field; nothing is stored', async () => {
    const cases: Array<[unknown, string]> = [
      [{ id: 'Bad_Id', kind: 'mcp', url: added.url }, 'id:'],
      [{ id: 'no-url', kind: 'mcp', url: 'ftp://example.com' }, 'url:'],
      [{ id: 'no-kind', url: added.url }, 'kind:'],
      [{ id: 'extra', kind: 'mcp', url: added.url, colour: 'red' }, 'colour: unknown key'],
      [{ id: 'stdio', kind: 'mcp', command: ['sh', '-c', 'id'] }, 'command:'],
      [{ id: 'bad-tools', kind: 'mcp', url: added.url, tools: { allow: 'all' } }, 'tools.allow:'],
      [
        { id: 'unset-secret', kind: 'mcp', url: added.url, credentials: { type: 'static', value_env: 'GATEHOUSE_TEST_UNSET_VARIABLE' } },
        'credentials.value_env: environment variable GATEHOUSE_TEST_UNSET_VARIABLE is not set',
      ],
      [
        { id: 'split-secret', kind: 'mcp', url: added.url, credentials: { type: 'static', value_env: 'SPLIT_API_KEY' } },
        'credentials.value_env: environment variable SPLIT_API_KEY contains a line break',
      ],
      [[1, 2], 'body:'],
      // The portal's own host, or a loopback alias of it: the app would take over sign-in and OAuth.
      [{ id: 'takeover', kind: 'http', url: added.url, host: new URL(first.url).host }, "host: is the portal's own host"],
      [{ id: 'takeover', kind: 'http', url: added.url, host: `localhost:${new URL(first.url).port}` }, "host: is the portal's own host"],
    ];
    for (const [body, field] of cases) {
      const res = await adminFetch(first.url, '/upstreams', { token, method: 'POST', body });
      expect(res.status).toBe(400);
      const error = (await res.json()) as ErrorBody;
      expect(error.error).toBe('invalid_upstream');
      expect(error.error_description.startsWith(field)).toBe(true);
    }
    const replaced = await adminFetch(first.url, '/upstreams/added', {
      token,
      method: 'PUT',
      body: { kind: 'http', url: added.url, host: new URL(first.url).host },
    });
    expect(replaced.status).toBe(400);
    expect(((await replaced.json()) as ErrorBody).error_description).toMatch(/^host: is the portal's own host/);
    const list = (await (await adminFetch(first.url, '/upstreams', { token })).json()) as {
      upstreams: Array<{ id: string; kind: string }>;
    };
    expect(list.upstreams.map((u) => [u.id, u.kind])).toEqual([
      ['configured', 'mcp'],
      ['added', 'mcp'],
    ]);
  });

  test('an id that exists is 409, in the config file or added; config-file upstreams are read-only', async () => {
    for (const id of ['configured', 'added']) {
      const res = await adminFetch(second.url, '/upstreams', { token, method: 'POST', body: { id, kind: 'mcp', url: added.url } });
      expect(res.status).toBe(409);
      expect(((await res.json()) as ErrorBody).error_description).toContain(`"${id}" already exists`);
    }
    expect((await adminFetch(first.url, '/upstreams/configured', { token, method: 'DELETE' })).status).toBe(409);
    expect(
      (await adminFetch(first.url, '/upstreams/configured', { token, method: 'PUT', body: { kind: 'mcp', url: added.url } })).status,
    ).toBe(409);
    expect((await adminFetch(first.url, '/upstreams/nothing', { token, method: 'DELETE' })).status).toBe(404);
  });

  test('update and delete an added upstream; both processes follow', async () => {
    const put = await adminFetch(second.url, '/upstreams/added', {
      token,
      method: 'PUT',
      body: { kind: 'mcp', url: added.url, title: 'Renamed' },
    });
    expect(put.status).toBe(200);
    let seen = '';
    await eventually(
      async () => {
        const res = await adminFetch(first.url, '/upstreams/added', { token });
        const text = await res.text();
        seen = `${res.status} ${text}`;
        return res.ok && (JSON.parse(text) as { title?: string }).title === 'Renamed' ? true : undefined;
      },
      PUB_SUB_TRIES,
      async () => `${seen}; ${await listeners()}`,
    );
    const unset = await adminFetch(second.url, '/upstreams/added', {
      token,
      method: 'PUT',
      body: { kind: 'mcp', url: added.url, credentials: { type: 'static', value_env: 'GATEHOUSE_TEST_UNSET_VARIABLE' } },
    });
    expect(unset.status).toBe(400);
    expect(((await unset.json()) as ErrorBody).error_description).toBe(
      'credentials.value_env: environment variable GATEHOUSE_TEST_UNSET_VARIABLE is not set',
    );
    expect(((await (await adminFetch(first.url, '/upstreams/added', { token })).json()) as { title?: string }).title).toBe('Renamed');
    const temp = await adminFetch(first.url, '/upstreams', {
      token,
      method: 'POST',
      body: { id: 'temporary', kind: 'http', url: added.url },
    });
    expect(temp.status).toBe(201);
    expect((await adminFetch(second.url, '/upstreams/temporary', { token, method: 'DELETE' })).status).toBe(204);
    await eventually(
      async () => ((await adminFetch(first.url, '/upstreams/temporary', { token })).status === 404 ? true : undefined),
      PUB_SUB_TRIES,
    );
  });

  test('an agent token, a non-admin person and no credentials are refused', async () => {
    const agent = await connectAgent(first.url, ALICE);
    agents.push(agent);
    // A valid token of this portal without the admin privilege: 403 insufficient_scope.
    const withAgentToken = await adminFetch(first.url, '/upstreams', { token: agent.accessToken() });
    expect(withAgentToken.status).toBe(403);
    expect(((await withAgentToken.json()) as ErrorBody).error).toBe('insufficient_scope');
    expect(withAgentToken.headers.get('www-authenticate')).toContain('scope="admin"');

    // Bob is not an admin: he cannot be granted an admin token…
    await expect(adminToken(first.url, BOB)).rejects.toThrow();
    // …and his browser session is refused.
    const browser = new FormBrowser(first.url);
    await browser.signIn(await browser.get(`${first.url}/login`), BOB);
    const asBob = await adminFetch(first.url, '/upstreams', { headers: { cookie: cookieHeader(browser) } });
    expect(asBob.status).toBe(403);
    expect(((await asBob.json()) as ErrorBody).error).toBe('forbidden');
    const create = await adminFetch(first.url, '/upstreams', {
      method: 'POST',
      body: { id: 'bobs', kind: 'mcp', url: added.url },
      headers: { cookie: cookieHeader(browser), origin: first.url },
    });
    expect(create.status).toBe(403);

    expect((await adminFetch(first.url, '/upstreams')).status).toBe(401);
    expect((await adminFetch(first.url, '/upstreams', { token: 'not-a-token' })).status).toBe(401);
  });

  test("an admin's browser session works for reads, and for writes only from the portal's own origin", async () => {
    const browser = new FormBrowser(first.url);
    await browser.signIn(await browser.get(`${first.url}/login`), ALICE);
    const cookie = cookieHeader(browser);
    expect((await adminFetch(first.url, '/upstreams', { headers: { cookie } })).status).toBe(200);
    const body = { id: 'via-session', kind: 'http', url: added.url };
    expect(
      (await adminFetch(first.url, '/upstreams', { method: 'POST', body, headers: { cookie, origin: 'https://evil.example' } })).status,
    ).toBe(403);
    expect((await adminFetch(first.url, '/upstreams', { method: 'POST', body, headers: { cookie, origin: first.url } })).status).toBe(201);
    expect(
      (await adminFetch(first.url, '/upstreams/via-session', { method: 'DELETE', headers: { cookie, origin: first.url } })).status,
    ).toBe(204);
  });

  test('clients list and delete; grants list and revoke by person and by client', async () => {
    const agent = await connectAgent(first.url, ALICE);
    const clientId = agent.provider.clientInformation()!.client_id;
    const clients = (await (await adminFetch(first.url, '/clients', { token })).json()) as {
      clients: Array<{ client_id: string; client_name?: string }>;
    };
    expect(clients.clients).toContainEqual(expect.objectContaining({ client_id: clientId, client_name: 'SDK Test Agent' }));

    const byClient = (await (await adminFetch(first.url, `/grants?client=${encodeURIComponent(clientId)}`, { token })).json()) as {
      grants: Array<{ id: string; person: string }>;
    };
    expect(byClient.grants).toHaveLength(1);
    expect(byClient.grants[0]!.person).toBe('local:alice');
    const byPerson = (await (await adminFetch(first.url, '/grants?person=local:alice', { token })).json()) as {
      grants: Array<{ id: string }>;
    };
    expect(byPerson.grants.map((g) => g.id)).toContain(byClient.grants[0]!.id);
    expect((await adminFetch(first.url, '/grants', { token })).status).toBe(400);

    expect((await adminFetch(second.url, `/grants/${byClient.grants[0]!.id}`, { token, method: 'DELETE' })).status).toBe(204);
    await expect(agent.client.listTools()).rejects.toThrow();
    expect((await adminFetch(second.url, `/grants/${byClient.grants[0]!.id}`, { token, method: 'DELETE' })).status).toBe(404);
    await agent.client.close().catch(() => {});

    // Revoke every grant of a client at once, then delete the client.
    const other = await connectAgent(first.url, ALICE);
    const otherId = other.provider.clientInformation()!.client_id;
    const revoked = await adminFetch(first.url, '/grants/revoke', { token, method: 'POST', body: { client: otherId } });
    expect(await revoked.json()).toEqual({ revoked: 1 });
    expect((await adminFetch(first.url, `/clients/${encodeURIComponent(otherId)}`, { token, method: 'DELETE' })).status).toBe(204);
    const after = (await (await adminFetch(first.url, '/clients', { token })).json()) as { clients: Array<{ client_id: string }> };
    expect(after.clients.map((c) => c.client_id)).not.toContain(otherId);
    await other.client.close().catch(() => {});
  });
});
