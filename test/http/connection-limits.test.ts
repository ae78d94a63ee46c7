import { setTimeout as sleep } from 'node:timers/promises';
import { authorizedToken } from '../helpers/agent.js';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { startTestUpstream, type TestUpstream } from '../helpers/http-app-upstream.js';
import { startRecordingMcpServer, type RecordingServer } from '../helpers/mcp-test-servers.js';
import { MCP_HEADERS, until } from '../helpers/mcp-wire.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { openConnection, rawRequest, type RawConnection } from '../helpers/raw-http.js';

const portOf = (portal: TestPortal) => Number(new URL(portal.url).port);

/** Writes `piece` every `everyMs` until the server closes the connection or `times` pieces were sent. */
async function trickle(connection: RawConnection, piece: string, everyMs: number, times: number): Promise<void> {
  for (let i = 0; i < times && !connection.closed(); i++) {
    connection.socket.write(piece);
    await sleep(everyMs);
  }
}

describe('connections that send nothing are closed; their number is capped', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal({ document: { http: { headers_timeout: '1s', request_timeout: '3s', keep_alive_timeout: '1s' } } });
  });
  afterAll(() => portal.close());

  test('a request head sent a header at a time (slowloris) is cut off with 408 after http.headers_timeout', async () => {
    const connection = await openConnection(portOf(portal), 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // 20 s of trickling, far past the 1 s allowed: the server closes long before.
    await trickle(connection, 'X-Slow: y\r\n', 250, 80);
    expect(connection.closed()).toBe(true);
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(connection.received()).not.toContain('"status":"ok"');
  });

  test('a connection that never sends a byte is closed', async () => {
    const connection = await openConnection(portOf(portal));
    await until(() => connection.closed(), 400);
    expect(connection.closed()).toBe(true);
  });

  test('a body sent a byte at a time is cut off after http.request_timeout', async () => {
    const connection = await openConnection(
      portOf(portal),
      'POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n',
    );
    await trickle(connection, 'a', 250, 80);
    expect(connection.closed()).toBe(true);
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  test('a kept-alive connection left idle is closed after http.keep_alive_timeout', async () => {
    const connection = await openConnection(portOf(portal), 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await connection.next('"status":"ok"');
    expect(connection.received()).toMatch(/Keep-Alive: timeout=1/);
    await until(() => connection.closed(), 400);
    expect(connection.closed()).toBe(true);
  });

  test('the portal keeps answering others meanwhile', async () => {
    const res = await fetch(`${portal.url}/healthz`);
    expect(res.status).toBe(200);
  });
});

describe('http.max_connections', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal({ document: { http: { max_connections: 2, keep_alive_timeout: '30s' } } });
  });
  afterAll(() => portal.close());

  test('connections past the cap are closed unanswered; a freed slot is served again', async () => {
    const request = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    const held = [await openConnection(portOf(portal), request), await openConnection(portOf(portal), request)];
    for (const connection of held) await connection.next('"status":"ok"');

    const refused = await rawRequest(portOf(portal), request);
    expect(refused).toEqual({ status: 0, text: '' });

    held[0]!.socket.destroy();
    let served = await rawRequest(portOf(portal), `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    // The server counts the freed slot once it has seen the close.
    for (let i = 0; i < 20 && served.status === 0; i++)
      served = await rawRequest(portOf(portal), `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(served.status).toBe(200);
    held[1]!.socket.destroy();
  });
});

describe('a request with more than one Host header', () => {
  let portal: TestPortal;
  let app: TestUpstream;
  beforeAll(async () => {
    app = await startTestUpstream();
    portal = await startTestPortal({
      document: {
        upstreams: [
          { id: 'wiki', kind: 'http', url: app.url },
          { id: 'hosted', kind: 'http', url: app.url, host: 'hosted.localhost' },
        ],
      },
    });
  });
  afterAll(async () => {
    await portal.close();
    await app.close();
  });

  test.each([
    ['a portal route', 'GET /healthz', 'Host: 127.0.0.1\r\nHost: evil.example'],
    ['a portal route, the second in other case', 'GET /.well-known/oauth-authorization-server', 'Host: 127.0.0.1\r\nHOST: evil.example'],
    ['the MCP endpoint', 'POST /mcp', 'Host: 127.0.0.1\r\nHost: evil.example\r\nContent-Type: application/json\r\nContent-Length: 2'],
    ['a path-routed app', 'GET /apps/wiki/echo', 'Host: 127.0.0.1\r\nHost: hosted.localhost'],
    ['a host-routed app', 'GET /echo', 'Host: hosted.localhost\r\nHost: 127.0.0.1'],
    ['a WebSocket upgrade', 'GET /ws', 'Host: hosted.localhost\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: echo'],
  ])('is a 400 at %s, and nothing reaches an app', async (_where, line, hosts) => {
    const before = app.seen.length;
    const answer = await rawRequest(
      portOf(portal),
      `${line} HTTP/1.1\r\n${hosts}\r\nConnection: close\r\n\r\n${line.startsWith('POST') ? '{}' : ''}`,
    );
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/more than one Host header/);
    expect(app.seen.length).toBe(before);
  });

  test('one Host header is served as usual', async () => {
    const answer = await rawRequest(portOf(portal), 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(answer.status).toBe(200);
  });
});

describe('http.idle_timeout spares long-lived streams', () => {
  let portal: TestPortal;
  let recorder: RecordingServer;
  let app: TestUpstream;
  let aggregateToken: string;
  let transparentToken: string;
  const cleanups: Array<() => void> = [];

  beforeAll(async () => {
    [recorder, app] = await Promise.all([startRecordingMcpServer(), startTestUpstream()]);
    portal = await startTestPortal({
      document: {
        http: { idle_timeout: '20s', headers_timeout: '60s', request_timeout: '2m' },
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'recorder', kind: 'mcp', url: recorder.url },
          { id: 'wiki', kind: 'http', url: app.url },
        ],
      },
    });
    aggregateToken = await authorizedToken(portal.url, ALICE, '/mcp');
    transparentToken = await authorizedToken(portal.url, ALICE, '/mcp/recorder');
  });
  afterAll(async () => {
    for (const cleanup of cleanups) cleanup();
    await portal.close();
    await Promise.all([recorder.close(), app.close()]);
  });

  /** Opens an MCP session of the session protocol on `path` and its GET event stream. */
  async function sessionStream(path: string, token: string): Promise<ReadableStreamDefaultReader<Uint8Array>> {
    const headers = { ...MCP_HEADERS, authorization: `Bearer ${token}` };
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    };
    const started = await fetch(`${portal.url}${path}`, { method: 'POST', headers, body: JSON.stringify(initialize) });
    const session = started.headers.get('mcp-session-id')!;
    await started.text();
    const sessionHeaders = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    await (
      await fetch(`${portal.url}${path}`, {
        method: 'POST',
        headers: sessionHeaders,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      })
    ).text();
    const stream = await fetch(`${portal.url}${path}`, { headers: { ...sessionHeaders, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    return readerOf(stream);
  }

  function readerOf(res: Response): ReadableStreamDefaultReader<Uint8Array> {
    const reader = res.body!.getReader();
    cleanups.push(() => void reader.cancel().catch(() => {}));
    return reader;
  }

  /** Reads what the stream has sent by now; `done` when the server ended it. */
  async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<{ text: string; done: boolean }> {
    let text = '';
    for (;;) {
      const chunk = await Promise.race([reader.read(), sleep(200).then(() => undefined)]);
      if (!chunk) return { text, done: false };
      if (chunk.done) return { text, done: true };
      text += Buffer.from(chunk.value).toString();
    }
  }

  test('a silent connection is closed; MCP event streams (GET, relayed GET, subscriptions/listen) and a WebSocket stay open', async () => {
    const aggregateStream = await sessionStream('/mcp', aggregateToken);
    const relayedStream = await sessionStream('/mcp/recorder', transparentToken);
    const envelope = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const listening = await fetch(`${portal.url}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${aggregateToken}`,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 9,
        method: 'subscriptions/listen',
        params: { notifications: { toolsListChanged: true }, _meta: envelope },
      }),
    });
    expect(listening.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const listenStream = readerOf(listening);

    const browser = new FormBrowser(portal.url);
    await browser.signIn(await browser.get(`${portal.url}/login`), ALICE);
    const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const socket = await openConnection(
      portOf(portal),
      `GET /apps/wiki/ws HTTP/1.1\r\nHost: 127.0.0.1:${portOf(portal)}\r\nConnection: Upgrade\r\nUpgrade: echo\r\nOrigin: ${portal.url}\r\nCookie: ${cookie}\r\n\r\n`,
    );
    cleanups.push(() => socket.socket.destroy());
    await socket.next('\r\n\r\n');
    expect(socket.received()).toMatch(/^HTTP\/1\.1 101 /);

    const silent = await openConnection(portOf(portal));
    cleanups.push(() => silent.socket.destroy());

    // The silent connection, opened last, is closed 20 s on; the streams, older, outlive it on their 15 s keep-alives.
    await until(() => silent.closed(), 1_600);
    expect(silent.closed()).toBe(true);
    for (const stream of [aggregateStream, relayedStream, listenStream]) {
      const seen = await drain(stream);
      expect(seen.done).toBe(false);
      expect(seen.text).toMatch(/^: ?keep-?alive/m);
    }
    expect(socket.closed()).toBe(false);
    socket.socket.write('still-there');
    await socket.next('still-there');
  }, 60_000);
});
