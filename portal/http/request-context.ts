import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Middleware } from './middleware.js';

declare module 'http' {
  interface IncomingMessage {
    /** This request's id: the caller's `X-Request-Id` when well-formed, else a new one. */
    id: string;
    /** The portal logger bound to this request's id. */
    log: Logger;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Gives each request an id (echoed as `X-Request-Id`) and a logger that carries it, and logs its outcome. */
export function requestContext(logger: Logger): Middleware {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    req.id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    // Made on first use: most requests of a portal logging at `warn` never log anything.
    let log: Logger | undefined;
    Object.defineProperty(req, 'log', { get: () => (log ??= logger.child({ reqId: req.id })), set: (value: Logger) => (log = value), configurable: true });
    res.setHeader('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Not even the request's logger is made when its line would be dropped.
      if (!logger.isLevelEnabled('info')) return;
      // The path only: query strings carry codes, states and tokens.
      req.log.info({ method: req.method, path: requestPath(req), status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
    });
    next();
  };
}

/** The request's path, without the query (express routers rewrite `req.url` on the way; `originalUrl` keeps it). */
export function requestPath(req: IncomingMessage): string {
  const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}
