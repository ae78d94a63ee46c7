import { createHash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { FRONT_HEADERS, startTestFront, type TestFront } from '../../helpers/http-app-front.js';
import { LARGE_BYTES, readEcho, startTestUpstream, type Echo, type TestUpstream } from '../../helpers/http-app-upstream.js';

describe('HTTP-app proxy: streaming end to end', () => {
  let upstream: TestUpstream;
  let front: TestFront;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    front = await startTestFront({
      upstreamUrl: `${upstream.url}/docs`,
      mountPath: '/apps/wiki',
      connectTimeoutMs: 2000,
      responseTimeoutMs: 2000,
    });
  });
  afterAll(async () => {
    await front.close();
    await upstream.close();
  });

  test('strips the mount prefix, maps onto the base path and keeps the query', async () => {
    const res = await fetch(`${front.url}/apps/wiki/echo?a=1&b=%2F`);
    expect(res.status).toBe(200);
    const body = await readEcho(res);
    expect(body.url).toBe('/docs/echo?a=1&b=%2F');
    expect(body.method).toBe('GET');
  });

  test('serves HTML pages as they are', async () => {
    const res = await fetch(`${front.url}/apps/wiki/page`);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toContain('<h1>Hello</h1>');
  });

  test('rewrites an absolute Location on the upstream under the mount path', async () => {
    const res = await fetch(`${front.url}/apps/wiki/redirect`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/apps/wiki/target?from=redirect');
  });

  test('rewrites a path-absolute Location under the base path', async () => {
    const res = await fetch(`${front.url}/apps/wiki/relative-redirect`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/apps/wiki/elsewhere');
  });

  test('moves Set-Cookie paths under the mount, drops Domain, and refuses portal cookie names', async () => {
    const res = await fetch(`${front.url}/apps/wiki/cookie`);
    const cookies = res.headers.getSetCookie();
    expect(cookies).toEqual(['app_session=abc; Path=/apps/wiki; HttpOnly', 'pref=1; Path=/apps/wiki/settings']);
  });

  test('drops hop-by-hop response headers, including those Connection names', async () => {
    const res = await fetch(`${front.url}/apps/wiki/echo`);
    expect(res.headers.get('x-upstream-secret')).toBeNull();
    expect(res.headers.get('keep-alive')).not.toBe('timeout=77');
  });

  test('streams a 50 MB download: the first bytes arrive before the upstream has written its last', async () => {
    const res = await fetch(`${front.url}/apps/wiki/large`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(LARGE_BYTES));
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.value!.length).toBeGreaterThan(0);
    // Socket buffers on two hops hold far less than 50 MB, so a buffering proxy could not get here.
    expect(upstream.largeFinished()).toBe(false);
    let total = first.value!.length;
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) total += chunk.value.length;
    expect(total).toBe(LARGE_BYTES);
    expect(upstream.largeFinished()).toBe(true);
  });

  test('streams a chunked upload: the upstream sees bytes before the client has sent the rest', async () => {
    const chunk = Buffer.alloc(256 * 1024, 'u');
    const expected = createHash('sha256');
    async function* body() {
      expected.update(chunk);
      yield chunk;
      await upstream.uploadStarted; // a buffering proxy would wait for the end and never get here
      for (let i = 0; i < 40; i++) {
        expected.update(chunk);
        yield chunk;
      }
    }
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        `${front.url}/apps/wiki/upload`,
        { method: 'PUT', headers: { 'content-type': 'application/octet-stream' } },
        (res) => {
          let text = '';
          res
            .setEncoding('utf8')
            .on('data', (part) => (text += part))
            .on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      req.on('error', reject);
      Readable.from(body()).pipe(req);
    });
    expect(answer.status).toBe(200);
    const seen = JSON.parse(answer.body) as Echo;
    expect(seen.length).toBe(41 * chunk.length);
    expect(seen.sha256).toBe(expected.digest('hex'));
    expect(seen.headers['transfer-encoding']).toBe('chunked');
  });

  test('forwards a form POST with its Content-Length and body', async () => {
    const form = new URLSearchParams({ title: 'Hello & welcome', body: 'x'.repeat(5000) });
    const res = await fetch(`${front.url}/apps/wiki/echo`, { method: 'POST', body: form });
    const seen = await readEcho(res);
    expect(seen.method).toBe('POST');
    expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    expect(seen.length).toBe(Buffer.byteLength(form.toString()));
    expect(seen.sha256).toBe(createHash('sha256').update(form.toString()).digest('hex'));
  });

  test('a URL outside the mount is not proxied', async () => {
    const res = await fetch(`${front.url}/apps/wikipedia/echo`);
    expect(res.status).toBe(404);
  });

  test('adds the credential headers it is given', async () => {
    const seen = await readEcho(await fetch(`${front.url}/apps/wiki/echo`));
    expect(seen.headers['gatehouse-assertion']).toBe(FRONT_HEADERS['Gatehouse-Assertion']);
  });
});

describe('HTTP-app proxy: host routing (no mount prefix)', () => {
  let upstream: TestUpstream;
  let front: TestFront;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    front = await startTestFront({ upstreamUrl: upstream.url, mountPath: '' });
  });
  afterAll(async () => {
    await front.close();
    await upstream.close();
  });

  test('passes the path through and rewrites Location to a path on the portal host', async () => {
    expect((await readEcho(await fetch(`${front.url}/x/echo?q=1`))).url).toBe('/x/echo?q=1');
    const res = await fetch(`${front.url}/redirect`, { redirect: 'manual' });
    expect(res.headers.get('location')).toBe('/docs/target?from=redirect');
  });

  test('keeps Set-Cookie paths as they are on a root upstream', async () => {
    const cookies = (await fetch(`${front.url}/cookie`)).headers.getSetCookie();
    expect(cookies).toEqual(['app_session=abc; Path=/; HttpOnly', 'pref=1; Path=/docs/settings']);
  });
});
