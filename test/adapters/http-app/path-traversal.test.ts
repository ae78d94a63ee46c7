import { toUpstreamPath } from '../../../adapters/http-app/upstream-path.js';
import { startTestFront, type TestFront } from '../../helpers/http-app-front.js';
import { startTestUpstream, type TestUpstream } from '../../helpers/http-app-upstream.js';
import { rawRequest } from '../../helpers/raw-http.js';

/** Request targets that try to climb out of `/apps/wiki` (→ upstream base `/docs`). */
const ESCAPES = [
  '/apps/wiki/../admin',
  '/apps/wiki/..',
  '/apps/wiki/./../admin',
  '/apps/wiki/a/../../admin',
  '/apps/wiki/%2e%2e/admin',
  '/apps/wiki/%2E%2E/admin',
  '/apps/wiki/.%2e/admin',
  '/apps/wiki/%2e./admin',
  '/apps/wiki/..%2fadmin',
  '/apps/wiki/..%2Fadmin',
  '/apps/wiki/%2e%2e%2fadmin',
  '/apps/wiki/..%5cadmin',
  '/apps/wiki/..\\admin',
  '/apps/wiki/%252e%252e/admin',
  '/apps/wiki/%252e%252e%252fadmin',
  '/apps/wiki/%25252e%25252e/admin',
  '/apps/wiki/x/%00/y',
  // Path parameters: Tomcat and other servlet containers read `..;x` as `..`.
  '/apps/wiki/..;/admin',
  '/apps/wiki/..;jsessionid=1/admin',
  '/apps/wiki/.;/..;/admin',
  '/apps/wiki/%2e%2e%3b/admin',
  '/apps/wiki/%2e%2e;/admin',
  '/apps/wiki/%252e%252e%253b/admin',
  // IIS-style %u escapes, however they spell a dot.
  '/apps/wiki/%u002e%u002e/admin',
  '/apps/wiki/%U002E%U002E/admin',
  '/apps/wiki/%25u002e%25u002e/admin',
  '/apps/wiki/a%u002fb',
  // Overlong UTF-8 dots and slashes, which lenient decoders turn into ASCII.
  '/apps/wiki/%c0%ae%c0%ae/admin',
  '/apps/wiki/%e0%80%ae%e0%80%ae/admin',
  '/apps/wiki/..%c0%afadmin',
  // A backslash is a separator to IIS and to WHATWG URL parsers; no browser sends one raw.
  '/apps/wiki/a\\b',
  '/apps/wiki/\\..\\admin',
];

describe('HTTP-app proxy: path traversal', () => {
  let upstream: TestUpstream;
  let front: TestFront;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    front = await startTestFront({ upstreamUrl: `${upstream.url}/docs`, mountPath: '/apps/wiki' });
  });
  afterAll(async () => {
    await front.close();
    await upstream.close();
  });

  test.each(ESCAPES)('%s → 400 over a raw socket, and nothing reaches the upstream', async (target) => {
    const before = upstream.seen.length;
    const answer = await rawRequest(
      front.port,
      `GET ${target} HTTP/1.1\r\nHost: portal\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
    );
    expect(answer.status).toBe(400);
    expect(upstream.seen.length).toBe(before);
  });

  test('ordinary paths, encoded slashes between names and stray percent signs still pass', async () => {
    for (const [target, expected] of [
      ['/apps/wiki/a%2Fb/c', '/docs/a%2Fb/c'],
      ['/apps/wiki/..foo/bar..', '/docs/..foo/bar..'],
      ['/apps/wiki/100%', '/docs/100%'],
      ['/apps/wiki/echo?path=../../etc/passwd', '/docs/echo?path=../../etc/passwd'],
      ['/apps/wiki/page;jsessionid=abc', '/docs/page;jsessionid=abc'],
      ['/apps/wiki/caf%e9/%C3%A9t%C3%A9', '/docs/caf%e9/%C3%A9t%C3%A9'],
      ['/apps/wiki/%uzzz', '/docs/%uzzz'],
    ] as const) {
      const answer = await rawRequest(front.port, `GET ${target} HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n\r\n`);
      expect(answer.status).not.toBe(400);
      expect(upstream.seen.at(-1)!.url).toBe(expected);
    }
  });
});

describe('toUpstreamPath', () => {
  test.each([
    ['/apps/wiki', '/apps/wiki', '/', '/'],
    ['/apps/wiki/', '/apps/wiki', '', '/'],
    ['/apps/wiki?x=1', '/apps/wiki', '/docs', '/docs/?x=1'],
    ['/apps/wiki/a/b', '/apps/wiki', '/docs/', '/docs/a/b'],
    ['/a/b', '', '/', '/a/b'],
    ['/a/b', '', '/base', '/base/a/b'],
  ])('%s mounted at %j onto base %j → %s', (url, mount, base, expected) => {
    expect(toUpstreamPath(url, mount, base)).toBe(expected);
  });

  test('a URL outside the mount is undefined, not a prefix match', () => {
    expect(toUpstreamPath('/apps/wikipedia/x', '/apps/wiki', '/')).toBeUndefined();
    expect(toUpstreamPath('/other', '/apps/wiki', '/')).toBeUndefined();
  });

  test('an absolute-form or asterisk target is refused', () => {
    expect(() => toUpstreamPath('http://evil/x', '', '/')).toThrow(expect.objectContaining({ status: 400, code: 'invalid_request' }));
    expect(() => toUpstreamPath('*', '', '/')).toThrow(expect.objectContaining({ status: 400 }));
  });

  test.each(ESCAPES)('%s throws 400 invalid_request', (target) => {
    expect(() => toUpstreamPath(target, '/apps/wiki', '/docs')).toThrow(expect.objectContaining({ status: 400, code: 'invalid_request' }));
  });
});
