import express from 'express';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createHttpAppProxy, type ForwardOptions, type HttpAppProxy, type HttpAppProxyOptions } from '../../adapters/http-app/proxy.js';
import { errorHandler } from '../../portal/http/errors.js';
import { createLogger } from '../../portal/logger.js';

/** What the tests' front adds to every proxied request, standing in for the portal's auth layer. */
export const FRONT_HEADERS = { 'Gatehouse-Assertion': 'signed.jwt.here', 'X-Gatehouse-Test': 'added' };
/** The portal's cookie names, as the tests' front declares them. */
export const PORTAL_COOKIES = ['gh_session', 'gh_csrf'];

/** A tiny express app on 127.0.0.1 that mounts the proxy and the portal's real error handler. */
export interface TestFront {
  url: string;
  port: number;
  proxy: HttpAppProxy;
  /** Errors the portal's error handler logged (5xx), as pino lines. */
  logged: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * Mounts `createHttpAppProxy(options)` at `options.mountPath` (or `/` for host routing) and WebSocket
 * upgrades. `serverOptions` reach `http.createServer` (e.g. `insecureHTTPParser`, to let malformed
 * requests reach the proxy's own checks). `extra` adds per-request forward options (e.g. an interceptor).
 */
export async function startTestFront(
  options: HttpAppProxyOptions,
  serverOptions: http.ServerOptions = {},
  extra: (req: http.IncomingMessage) => ForwardOptions = () => ({}),
): Promise<TestFront> {
  const logged: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logged.push(JSON.parse(line));
      done();
    },
  });
  const proxy = createHttpAppProxy(options);
  const forward = { headers: FRONT_HEADERS, stripCookies: PORTAL_COOKIES };
  const app = express();
  app.use(options.mountPath || '/', (req, res, next) => {
    proxy(req, res, { ...forward, ...extra(req) }).catch(next);
  });
  app.use(errorHandler(createLogger({ level: 'info', destination })));
  const server = http.createServer(serverOptions, app);
  server.on('upgrade', (req, socket, head) => {
    proxy.upgrade(req, socket, head, forward).catch(() => undefined);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proxy,
    logged,
    close: () =>
      new Promise<void>((resolve) => {
        proxy.close();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
