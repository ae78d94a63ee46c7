import http from 'node:http';
import net from 'node:net';
import { startTestFront, type TestFront } from '../../helpers/http-app-front.js';
import { startTestUpstream, type TestUpstream } from '../../helpers/http-app-upstream.js';

/** A port that was free a moment ago: nothing listens on it, so connecting is refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('HTTP-app proxy: gateway errors', () => {
  let upstream: TestUpstream;
  const fronts: TestFront[] = [];
  beforeAll(async () => {
    upstream = await startTestUpstream();
  });
  afterAll(async () => {
    for (const front of fronts) await front.close();
    await upstream.close();
  });
  const front = async (upstreamUrl: string) => {
    const started = await startTestFront({ upstreamUrl, mountPath: '/apps/wiki', connectTimeoutMs: 1000, responseTimeoutMs: 300 });
    fronts.push(started);
    return started;
  };

  test('a closed port is a 502 bad_gateway rendered by the portal error handler', async () => {
    const { url, logged } = await front(`http://127.0.0.1:${await closedPort()}`);
    const res = await fetch(`${url}/apps/wiki/echo`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe('bad_gateway');
    expect(body.error_description).not.toContain('ECONNREFUSED'); // detail goes to the log only
    expect(
      logged.some((line) => (line.err as { code?: string })?.code === 'bad_gateway' && String(line.msg).includes('ECONNREFUSED')),
    ).toBe(true);
  });

  test('an upstream that never answers is a 504 gateway_timeout', async () => {
    const { url } = await front(upstream.url);
    const res = await fetch(`${url}/apps/wiki/hang`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: string }).error).toBe('gateway_timeout');
  });

  test('a person gets the portal error page, not the upstream body', async () => {
    const { url } = await front(`http://127.0.0.1:${await closedPort()}`);
    const res = await fetch(`${url}/apps/wiki/`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('bad gateway');
  });

  test('upstream error statuses and bodies pass through as the app answered them', async () => {
    const { url } = await front(upstream.url);
    const res = await fetch(`${url}/apps/wiki/echo`, { method: 'DELETE' });
    expect(res.status).toBe(200);
  });

  describe('an app that closes a kept-alive connection as it is reused', () => {
    // Answers the first request of each connection, and drops the connection at the second, as an
    // app whose keep-alive idle timeout fires just when the proxy sends on it again.
    let app: http.Server;
    let appUrl: string;
    const arrived: Array<{ method: string; connection: number }> = [];
    beforeAll(async () => {
      const served = new WeakMap<net.Socket, number>();
      let connections = 0;
      app = http.createServer((req, res) => {
        const count = (served.get(req.socket) ?? 0) + 1;
        served.set(req.socket, count);
        if (count === 1) (req.socket as net.Socket & { number?: number }).number = ++connections;
        arrived.push({ method: req.method!, connection: (req.socket as net.Socket & { number?: number }).number! });
        if (count > 1) {
          req.socket.destroy();
          return;
        }
        req.resume();
        req.on('end', () => res.end(`answered ${req.method}`));
      });
      await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
      appUrl = `http://127.0.0.1:${(app.address() as net.AddressInfo).port}`;
    });
    afterAll(async () => {
      app.closeAllConnections();
      await new Promise<void>((resolve) => app.close(() => resolve()));
    });
    beforeEach(() => void arrived.splice(0));

    test('a request without a body is sent again on a new connection and answered', async () => {
      const { url } = await front(appUrl);
      expect(await (await fetch(`${url}/apps/wiki/first`)).text()).toBe('answered GET');
      const again = await fetch(`${url}/apps/wiki/second`);
      expect(again.status).toBe(200);
      expect(await again.text()).toBe('answered GET');
      // The second request reached the dropped connection, then a new one.
      expect(arrived.map((seen) => seen.connection)).toEqual([1, 1, 2]);
    });

    test('a request with a body is never sent twice: 502 bad_gateway', async () => {
      const { url } = await front(appUrl);
      expect((await fetch(`${url}/apps/wiki/first`)).status).toBe(200);
      const refused = await fetch(`${url}/apps/wiki/submit`, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'text/plain' },
        body: 'order #1',
      });
      expect(refused.status).toBe(502);
      expect(((await refused.json()) as { error: string }).error).toBe('bad_gateway');
      expect(arrived.filter((seen) => seen.method === 'POST')).toHaveLength(1);
    });
  });
});
