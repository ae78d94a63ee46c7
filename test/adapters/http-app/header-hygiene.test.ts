import { FRONT_HEADERS, startTestFront, type TestFront } from '../../helpers/http-app-front.js';
import { readEcho, startTestUpstream, type TestUpstream } from '../../helpers/http-app-upstream.js';
import { rawRequest } from '../../helpers/raw-http.js';

describe('HTTP-app proxy: what the upstream sees', () => {
  let upstream: TestUpstream;
  let front: TestFront;
  let trusting: TestFront;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    front = await startTestFront({ upstreamUrl: upstream.url, mountPath: '/apps/wiki' });
    trusting = await startTestFront({ upstreamUrl: upstream.url, mountPath: '/apps/wiki', trustForwarded: true });
  });
  afterAll(async () => {
    await front.close();
    await trusting.close();
    await upstream.close();
  });

  const echo = async (base: string, headers: Record<string, string>) =>
    (await readEcho(await fetch(`${base}/apps/wiki/echo`, { headers }))).headers;

  test('never the agent Authorization header nor the portal cookies; the app cookies stay', async () => {
    const seen = await echo(front.url, {
      authorization: 'Bearer agent-token',
      cookie: 'gh_session=s3cret; app_session=abc; gh_csrf=t; theme=dark',
    });
    expect(seen.authorization).toBeUndefined();
    expect(seen.cookie).toBe('app_session=abc; theme=dark');
    expect(JSON.stringify(seen)).not.toContain('s3cret');
    expect(JSON.stringify(seen)).not.toContain('agent-token');
  });

  test('no Cookie header at all when only portal cookies were sent', async () => {
    const seen = await echo(front.url, { cookie: 'gh_session=s3cret' });
    expect(seen.cookie).toBeUndefined();
  });

  test('the added credential headers replace forged ones, and other Gatehouse-* headers are dropped', async () => {
    const seen = await echo(front.url, { 'gatehouse-assertion': 'forged', 'gatehouse-user': 'admin' });
    expect(seen['gatehouse-assertion']).toBe(FRONT_HEADERS['Gatehouse-Assertion']);
    expect(seen['x-gatehouse-test']).toBe('added');
    expect(seen['gatehouse-user']).toBeUndefined();
  });

  test('X-Forwarded-For/Proto/Host/Prefix set by the portal; an untrusted incoming chain is replaced', async () => {
    const seen = await echo(front.url, {
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      forwarded: 'for=6.6.6.6',
    });
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe(new URL(front.url).host);
    expect(seen['x-forwarded-prefix']).toBe('/apps/wiki');
    expect(seen.forwarded).toBeUndefined();
  });

  test('a trusted incoming chain is appended to', async () => {
    const seen = await echo(trusting.url, {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-host': 'gate.example.com',
      'x-forwarded-proto': 'https',
    });
    expect(seen['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('https');
    expect(seen['x-forwarded-host']).toBe('gate.example.com');
  });

  test('Host is the upstream own; end-to-end headers pass', async () => {
    const seen = await echo(front.url, { 'accept-language': 'de', 'x-custom': 'kept' });
    expect(seen.host).toBe(new URL(upstream.url).host);
    expect(seen['accept-language']).toBe('de');
    expect(seen['x-custom']).toBe('kept');
  });

  test('hop-by-hop request headers and the ones Connection names are dropped (raw request)', async () => {
    const answer = await rawRequest(
      front.port,
      'GET /apps/wiki/echo HTTP/1.1\r\nHost: portal\r\nConnection: close, x-hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\nProxy-Authorization: Basic Zm9v\r\nUpgrade-Insecure-Requests: 1\r\n\r\n',
    );
    expect(answer.status).toBe(200);
    const seen = JSON.parse(answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ''));
    for (const name of ['x-hop', 'te', 'proxy-authorization']) expect(seen.headers[name]).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
    expect(seen.headers['upgrade-insecure-requests']).toBe('1'); // not hop-by-hop despite the name
  });
});
