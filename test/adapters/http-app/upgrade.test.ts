import net from 'node:net';
import { startTestFront, type TestFront } from '../../helpers/http-app-front.js';
import { startTestUpstream, type TestUpstream } from '../../helpers/http-app-upstream.js';
import { rawRequest } from '../../helpers/raw-http.js';

/** Opens a raw connection, sends an Upgrade handshake and resolves with the socket and the bytes read so far. */
function handshake(
  port: number,
  path: string,
  extra = '',
): Promise<{ socket: net.Socket; received: () => string; next: (marker: string) => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const waiters: Array<{ marker: string; done: () => void }> = [];
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      for (const waiter of waiters.filter((w) => text.includes(w.marker))) waiter.done();
    });
    socket.on('error', reject);
    const next = (marker: string) => new Promise<void>((done) => (text.includes(marker) ? done() : waiters.push({ marker, done })));
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: portal\r\nConnection: Upgrade\r\nUpgrade: echo\r\nAuthorization: Bearer agent-token\r\nCookie: gh_session=s; app=1\r\n${extra}\r\n`,
      );
      resolve({ socket, received: () => text, next });
    });
  });
}

describe('HTTP-app proxy: Upgrade pass-through', () => {
  let upstream: TestUpstream;
  let front: TestFront;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    front = await startTestFront({ upstreamUrl: upstream.url, mountPath: '/apps/wiki', connectTimeoutMs: 1000, responseTimeoutMs: 500 });
  });
  afterAll(async () => {
    await front.close();
    await upstream.close();
  });

  test('relays the 101 and then pipes bytes both ways', async () => {
    const { socket, received, next } = await handshake(front.port, '/apps/wiki/ws');
    await next('\r\n\r\n');
    expect(received()).toMatch(/^HTTP\/1\.1 101 /);
    expect(received()).toContain('X-Upstream: yes');
    socket.write('ping-1');
    await next('ping-1');
    socket.write('ping-2');
    await next('ping-2');
    socket.destroy();
    const seen = upstream.seen.find((request) => request.url === '/ws')!;
    expect(seen.headers.upgrade).toBe('echo');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers.cookie).toBe('app=1');
    expect(seen.headers['gatehouse-assertion']).toBe('signed.jwt.here');
  });

  test('an upstream that declines the upgrade has its answer relayed', async () => {
    const answer = await rawRequest(
      front.port,
      'GET /apps/wiki/ws-refused HTTP/1.1\r\nHost: portal\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n',
    );
    expect(answer.status).toBe(401);
    expect(answer.text).toContain('denied');
  });

  test('a traversal in an upgrade is refused on the socket with 400', async () => {
    const before = upstream.seen.length;
    const answer = await rawRequest(
      front.port,
      'GET /apps/wiki/%2e%2e/ws HTTP/1.1\r\nHost: portal\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n',
    );
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('"error":"invalid_request"');
    expect(upstream.seen.length).toBe(before);
  });

  test('an upstream that never answers the upgrade gets 504 gateway_timeout', async () => {
    const answer = await rawRequest(
      front.port,
      'GET /apps/wiki/hang HTTP/1.1\r\nHost: portal\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n',
      10_000,
    );
    expect(answer.status).toBe(504);
    expect(answer.text).toContain('"error":"gateway_timeout"');
  });
});
