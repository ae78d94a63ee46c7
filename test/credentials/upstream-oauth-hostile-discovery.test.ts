import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { startRawServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { connectInBrowser, startOAuthUpstream } from '../helpers/oauth-upstream.js';
import { BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { streamHugeAnswer } from '../helpers/huge-answer.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * An upstream the operator configured (on loopback, as in tests and the demo) that turns hostile
 * during discovery: its `401` challenge, its RFC 9728 metadata and its RFC 8414 metadata point the
 * portal wherever the test says.
 */
describe('upstream connect: discovery an upstream controls cannot reach inside the network', () => {
  const tls = selfSignedCertificate();
  const routes = new Map<string, Handler>();
  /** Whether the portal hung up on each answer before it ended, by path. */
  const closedEarly = new Map<string, Promise<boolean>>();
  let hostile: RecordingServer;
  let hostileOrigin: string;
  /** Internal services nothing learned from the upstream may reach. */
  let internal: RecordingServer;
  let internalOrigin: string;
  let internalTls: Server;
  let internalTlsOrigin: string;
  let internalTlsRequests = 0;
  let portal: TestPortal;

  beforeAll(async () => {
    hostile = await startRawServer((req, res) => {
      req.resume();
      closedEarly.set(req.url ?? '', new Promise((resolve) => res.on('close', () => resolve(!res.writableFinished))));
      const route = routes.get(req.url ?? '');
      if (route) route(req, res);
      else res.writeHead(404).end();
    });
    hostileOrigin = new URL(hostile.url).origin;
    internal = await startRawServer(
      (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"secret":"internal"}'),
    );
    internalOrigin = new URL(internal.url).origin;
    internalTls = createServer({ key: tls.key, cert: tls.cert }, (_req, res) => {
      internalTlsRequests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"secret":"internal"}');
    });
    await new Promise<void>((resolve) => internalTls.listen(0, '127.0.0.1', resolve));
    internalTlsOrigin = `https://127.0.0.1:${(internalTls.address() as AddressInfo).port}`;
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [{ id: 'hostile', kind: 'mcp', url: hostile.url, credentials: { type: 'oauth' } }],
      },
    });
  });
  afterAll(async () => {
    await portal?.close();
    await hostile?.close();
    await internal?.close();
    internalTls?.closeAllConnections();
    await new Promise((resolve) => internalTls?.close(resolve));
  });
  beforeEach(() => routes.clear());

  const json =
    (body: unknown): Handler =>
    (_req, res) =>
      void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const challenge =
    (resourceMetadata: string): Handler =>
    (_req, res) =>
      void res
        .writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${resourceMetadata}"`, 'content-type': 'application/json' })
        .end('{"error":"invalid_token"}');

  /** Bob starts connecting the hostile upstream; expects the upstream-OAuth error page and nothing stored. */
  async function connectFails(expectedCode: string): Promise<{ page: string; internal: string }> {
    const logsBefore = portal.logs.lines.length;
    const res = await connectInBrowser(new FormBrowser(portal.url), 'hostile', BOB);
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const page = await res.text();
    expect(page).not.toContain('internal');
    expect(await portal.store.setMembers('upstream-token:{local:bob}:index')).toEqual([]);
    const failure = portal.logs.lines.slice(logsBefore).find((l) => l.event === 'upstream_connect_failed');
    expect(failure).toMatchObject({ upstream: 'hostile', errorCode: expectedCode });
    return { page, internal: String(failure!.internal) };
  }

  test('resource_metadata pointing at an internal http URL on another origin is not fetched', async () => {
    routes.set('/mcp', challenge(`${internalOrigin}/latest/meta-data/`));
    const before = internal.requests.length;
    const { internal: why } = await connectFails('as_invalid_response');
    expect(why).toContain('resource_metadata');
    expect(internal.requests.length).toBe(before);
  });

  test('resource_metadata on https at a loopback or link-local address is not fetched', async () => {
    for (const target of [
      `${internalTlsOrigin}/secret`,
      'https://169.254.169.254/latest/meta-data/',
      `https://localhost:${new URL(internalTlsOrigin).port}/secret`,
    ]) {
      routes.set('/mcp', challenge(target));
      const { internal: why } = await connectFails('as_invalid_response');
      expect([target, why]).toEqual([target, expect.stringContaining('blocked_address')]);
    }
    expect(internalTlsRequests).toBe(0);
  });

  test("resource metadata on the upstream's own origin that redirects inside is not followed there", async () => {
    routes.set('/mcp', challenge(`${hostileOrigin}/prm`));
    routes.set('/prm', (_req, res) => void res.writeHead(302, { location: `${internalTlsOrigin}/secret` }).end());
    const { internal: why } = await connectFails('as_invalid_response');
    expect(why).toContain('blocked_address');
    expect(internalTlsRequests).toBe(0);
  });

  test('an authorization server on another origin at a loopback address is not contacted (not allowed by the operator)', async () => {
    routes.set('/mcp', challenge(`${hostileOrigin}/prm`));
    routes.set('/prm', json({ resource: hostile.url, authorization_servers: [`${internalOrigin}/`] }));
    const before = internal.requests.length;
    const { internal: why } = await connectFails('as_invalid_response');
    expect(why).toContain('blocked_address');
    expect(internal.requests.length).toBe(before);
  });

  test('with upstream_oauth.allow_private_addresses the operator lets discovery reach an authorization server on another loopback origin', async () => {
    const as = await startOAuthUpstream();
    const allowing = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstream_oauth: { allow_private_addresses: true },
        upstreams: [{ id: 'hostile', kind: 'mcp', url: hostile.url, credentials: { type: 'oauth' } }],
      },
    });
    try {
      routes.set('/mcp', challenge(`${hostileOrigin}/prm`));
      routes.set('/prm', json({ resource: hostile.url, authorization_servers: [as.issuer] }));
      const browser = new FormBrowser(allowing.url);
      const started = await browser.signIn(await browser.follow(`${allowing.url}/connect/hostile`), BOB);
      expect(started.status).toBe(303);
      expect(new URL(started.headers.get('location')!).origin).toBe(new URL(as.issuer).origin);
      expect(as.registrations).toBe(1);
    } finally {
      await allowing.close();
      await as.close();
    }
  });

  test('a registration endpoint found by discovery that points inside is not contacted', async () => {
    routes.set('/mcp', challenge(`${hostileOrigin}/prm`));
    routes.set('/prm', json({ resource: hostile.url, authorization_servers: [`${hostileOrigin}/`] }));
    routes.set(
      '/.well-known/oauth-authorization-server',
      json({
        issuer: `${hostileOrigin}/`,
        authorization_endpoint: `${hostileOrigin}/authorize`,
        token_endpoint: `${internalOrigin}/token`,
        registration_endpoint: `${internalOrigin}/register`,
        code_challenge_methods_supported: ['S256'],
      }),
    );
    const before = internal.requests.length;
    const { internal: why } = await connectFails('as_invalid_response');
    expect(why).toContain('blocked_address');
    expect(internal.requests.length).toBe(before);
  });

  test('a 200 MB metadata answer is cut off at 64 KB: the portal hangs up instead of reading it', async () => {
    routes.set('/mcp', challenge(`${hostileOrigin}/prm`));
    routes.set('/prm', (_req, res) => streamHugeAnswer(res));
    const { internal: why } = await connectFails('as_invalid_response');
    expect(why).toContain('too_large');
    expect(await closedEarly.get('/prm')).toBe(true);
  });
});
