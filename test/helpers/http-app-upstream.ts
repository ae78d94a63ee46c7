import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the upstream saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** What `/echo` and `/upload` answer. */
export interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  length: number;
  sha256: string;
}

/** Reads an `/echo` answer. */
export async function readEcho(res: Response): Promise<Echo> {
  return (await res.json()) as Echo;
}

/** A real legacy-style web app on 127.0.0.1 for proxy tests, with hooks that expose streaming. */
export interface TestUpstream {
  url: string;
  port: number;
  /** Every request that reached the app, in order. */
  seen: SeenRequest[];
  /** Whether `/large` has written its last byte (to show the proxy streams rather than buffers). */
  largeFinished(): boolean;
  /** Resolves when `/upload` has received its first body bytes. */
  uploadStarted: Promise<void>;
  close(): Promise<void>;
}

/** Size of the `/large` download. */
export const LARGE_BYTES = 50 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

/**
 * Starts the app. Routes: `/echo` (JSON of method, url, headers and a body digest), `/page`
 * (HTML), `/redirect` (302 to an absolute upstream URL), `/relative-redirect`, `/cookie`
 * (Set-Cookie with Path and Domain), `/set-cookie?c=…` (one Set-Cookie per `c`), `/large`
 * (50 MB streamed with backpressure), `/upload` (digest of a streamed body), `/hang` (never
 * answers), `/ws` (answers an Upgrade with 101 and echoes bytes), `/ws-refused` (401 to an
 * Upgrade). An Upgrade's answer carries a Set-Cookie per `c` too.
 */
export async function startTestUpstream(): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let largeDone = false;
  let markUploadStarted!: () => void;
  const uploadStarted = new Promise<void>((resolve) => (markUploadStarted = resolve));
  let origin = '';

  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    const path = req.url!.split('?')[0];
    if (path?.endsWith('/hang')) return; // never answers
    if (path?.endsWith('/large')) return void streamLarge(res, () => (largeDone = true));
    if (path?.endsWith('/redirect')) return void res.writeHead(302, { location: `${origin}/docs/target?from=redirect` }).end();
    if (path?.endsWith('/relative-redirect')) return void res.writeHead(303, { location: '/docs/elsewhere' }).end();
    if (path?.endsWith('/cookie')) {
      res.setHeader('set-cookie', [
        'app_session=abc; Path=/; HttpOnly',
        'pref=1; Path=/docs/settings; Domain=127.0.0.1',
        'gh_session=evil; Path=/',
      ]);
      return void res.end('ok');
    }
    if (path?.endsWith('/set-cookie')) return void res.writeHead(200, { 'set-cookie': setCookies(req.url!) }).end('ok');
    if (path?.endsWith('/page'))
      return void res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end('<!doctype html><title>Page</title><h1>Hello</h1>');
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      if (length === 0 && path?.endsWith('/upload')) markUploadStarted();
      length += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'x-upstream-secret',
        'x-upstream-secret': 'hop',
        'keep-alive': 'timeout=77',
      });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, length, sha256: hash.digest('hex') }));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket, head) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    const path = req.url!.split('?')[0];
    const cookies = setCookies(req.url!)
      .map((cookie) => `Set-Cookie: ${cookie}\r\n`)
      .join('');
    if (path?.endsWith('/hang')) return; // never answers the handshake
    if (path?.endsWith('/ws-refused')) {
      socket.end(`HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n${cookies}\r\ndenied`);
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Upstream: yes\r\n${cookies}\r\n`);
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    port,
    seen,
    largeFinished: () => largeDone,
    uploadStarted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The `c` query parameters of a request target: the cookies the test asked the app to set. */
function setCookies(target: string): string[] {
  return new URL(target, 'http://app').searchParams.getAll('c');
}

function streamLarge(res: http.ServerResponse, onDone: () => void): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(LARGE_BYTES) });
  let sent = 0;
  const write = () => {
    while (sent < LARGE_BYTES) {
      sent += CHUNK.length;
      if (!res.write(CHUNK)) return void res.once('drain', write);
    }
    res.end(onDone);
  };
  write();
}
