import { startTestFront, type TestFront } from '../../helpers/http-app-front.js';
import { startTestUpstream, type TestUpstream } from '../../helpers/http-app-upstream.js';
import { rawRequest } from '../../helpers/raw-http.js';

/**
 * Ambiguous framing (RFC 9112 §6.3) sent on raw sockets, so nothing normalizes it on the way.
 * Node's parser answers some of these itself; the proxy's own check answers the rest. Either way
 * the client gets a 400 and the upstream never sees the request.
 */
const SHAPES: Array<[string, string]> = [
  ['Content-Length and Transfer-Encoding', 'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding and Content-Length', 'Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n'],
  ['conflicting Content-Lengths', 'Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde'],
  ['a comma list of Content-Lengths that differ', 'Content-Length: 4, 5\r\n\r\nabcde'],
  ['a negative Content-Length', 'Content-Length: -1\r\n\r\n'],
  ['Transfer-Encoding that does not end with chunked', 'Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
  ['an obfuscated Transfer-Encoding', 'Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n'],
  ['Transfer-Encoding folded onto two lines', 'Transfer-Encoding: identity\r\n chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n'],
];

describe('HTTP-app proxy: request smuggling shapes', () => {
  let upstream: TestUpstream;
  let front: TestFront;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    front = await startTestFront({ upstreamUrl: upstream.url, mountPath: '/apps/wiki' });
  });
  afterAll(async () => {
    await front.close();
    await upstream.close();
  });

  test.each(SHAPES)('%s → 400, never forwarded', async (name, rest) => {
    const marker = `/apps/wiki/echo?shape=${encodeURIComponent(name)}`;
    const answer = await rawRequest(front.port, `POST ${marker} HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n${rest}`);
    expect(answer.status).toBe(400);
    expect(upstream.seen.some((request) => request.url.includes(encodeURIComponent(name)))).toBe(false);
  });

  describe('with a lenient parser in front (insecureHTTPParser), the proxy check still refuses', () => {
    let lenient: TestFront;
    beforeAll(async () => {
      lenient = await startTestFront({ upstreamUrl: upstream.url, mountPath: '/apps/wiki' }, { insecureHTTPParser: true });
    });
    afterAll(() => lenient.close());

    test.each(SHAPES.slice(0, 2))('%s → 400 invalid_request from the proxy', async (name, rest) => {
      const marker = `/apps/wiki/echo?lenient=${encodeURIComponent(name)}`;
      const answer = await rawRequest(
        lenient.port,
        `POST ${marker} HTTP/1.1\r\nHost: portal\r\nAccept: application/json\r\nConnection: close\r\n${rest}`,
      );
      expect(answer.status).toBe(400);
      expect(answer.text).toContain('"error":"invalid_request"');
      expect(upstream.seen.some((request) => request.url.includes('lenient='))).toBe(false);
    });
  });

  test('duplicate equal Content-Lengths are refused or forwarded as one, never as two', async () => {
    const answer = await rawRequest(
      front.port,
      'POST /apps/wiki/echo?shape=dup HTTP/1.1\r\nHost: portal\r\nConnection: close\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd',
    );
    if (answer.status === 200) {
      const seen = upstream.seen.find((request) => request.url.includes('shape=dup'))!;
      expect(seen.headers['content-length']).toBe('4');
    } else {
      expect(answer.status).toBe(400);
    }
  });

  test('a well-formed chunked body is forwarded re-framed as chunked', async () => {
    const answer = await rawRequest(
      front.port,
      'DELETE /apps/wiki/echo?shape=chunked HTTP/1.1\r\nHost: portal\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n',
    );
    expect(answer.status).toBe(200);
    const seen = upstream.seen.find((request) => request.url.includes('shape=chunked'))!;
    expect(seen.headers['transfer-encoding']).toBe('chunked');
    expect(answer.text).toContain('"length":4');
  });
});
