import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeFetch } from '../../adapters/node-fetch.js';
import { closedPort } from '../helpers/mcp-test-servers.js';

describe('nodeFetch: fetch semantics on node:http for the upstream transports', () => {
  let server: Server;
  let url: string;
  const seen: Array<{ method?: string; body: string; headers: Record<string, unknown> }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method, body, headers: req.headers });
        if (req.url === '/stream') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: first\n\n');
          return; // stays open: the caller reads what arrived so far
        }
        if (req.url === '/empty') return void res.writeHead(204).end();
        res
          .writeHead(201, [
            ['content-type', 'application/json'],
            ['set-cookie', 'a=1'],
            ['set-cookie', 'b=2'],
          ])
          .end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('sends method, headers and a string body; answers status, every header and the body', async () => {
    const res = await nodeFetch(`${url}/x`, { method: 'POST', headers: new Headers({ 'x-test': 'yes' }), body: '{"a":1}' });
    expect(res.status).toBe(201);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({ ok: true });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', body: '{"a":1}', headers: { 'x-test': 'yes', 'content-length': '7' } });
  });

  test('a 204 has no body', async () => {
    const res = await nodeFetch(`${url}/empty`);
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
  });

  test('a streamed response is readable before it ends, and aborting stops it with the reason', async () => {
    const controller = new AbortController();
    const res = await nodeFetch(`${url}/stream`, { signal: controller.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: first\n\n');
    controller.abort(new Error('done listening'));
    await expect(reader.read()).rejects.toThrow();
  });

  test('a refused connection rejects as fetch does: TypeError "fetch failed" with the socket error as cause', async () => {
    const port = await closedPort();
    await expect(nodeFetch(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({
      name: 'TypeError',
      message: 'fetch failed',
      cause: { code: 'ECONNREFUSED' },
    });
  });

  test('an already aborted signal rejects with its reason without a request', async () => {
    const before = seen.length;
    const controller = new AbortController();
    controller.abort(new Error('never mind'));
    await expect(nodeFetch(`${url}/x`, { signal: controller.signal })).rejects.toThrow('never mind');
    expect(seen.length).toBe(before);
  });
});
