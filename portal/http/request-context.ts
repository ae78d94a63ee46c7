import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RequestAuditor } from '../audit/event.js';
import type { AuthContext } from '../oauth/auth-context.js';
import type { Middleware } from './middleware.js';

/**
 * What the portal knows about one request: made by {@link requestContext} (the first per-request
 * step), then filled in by the steps and checks after it. Found with {@link contextOf}.
 */
export interface RequestContext {
  /** This request's id: the caller's `X-Request-Id` when well-formed, else a new one. */
  readonly id: string;
  /** The portal logger bound to this request's id. */
  readonly log: Logger;
  /** Who is calling: set by the bearer check on protected routes. */
  auth?: AuthContext;
  /** At the token endpoint, the thumbprint of a valid DPoP proof's key: what the tokens are bound to (RFC 9449 §5). */
  dpopJkt?: string;
  /** The route label of a request served outside express (express's own requests are labelled by their matched route). */
  metricsRoute?: string;
  /** Records an audit event for this request: set by `requestAudit`. */
  audit?: RequestAuditor;
  /**
   * The tool calls of this request already counted against quotas: a request served twice (the
   * relay hands it to the SDK path when the upstream turns out not to speak MCP 2026) counts once.
   */
  countedCalls?: Set<string>;
}

const contexts = new WeakMap<IncomingMessage, RequestContext>();

/** The request's context; throws when the per-request steps did not run (a wiring mistake, not a caller's). */
export function contextOf(req: IncomingMessage): RequestContext {
  const context = contexts.get(req);
  if (!context) throw new Error('this request has no context: mount requestContext first');
  return context;
}

/** The request's context, if the per-request steps ran: for code that also serves requests outside them (the error writer, a WebSocket upgrade). */
export function findContext(req: IncomingMessage): RequestContext | undefined {
  return contexts.get(req);
}

/** Who is calling, for a handler behind the bearer check; throws when no bearer check passed (a wiring mistake). */
export function authOf(req: IncomingMessage): AuthContext {
  const auth = contexts.get(req)?.auth;
  if (!auth) throw new Error('this request passed no bearer check');
  return auth;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Gives each request its context: an id (echoed as `X-Request-Id`) and a logger that carries it; logs the request's outcome. */
export function requestContext(logger: Logger): Middleware {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    // Made on first use: most requests of a portal logging at `warn` never log anything.
    let log: Logger | undefined;
    const context: RequestContext = {
      id,
      get log() {
        return (log ??= logger.child({ reqId: id }));
      },
    };
    contexts.set(req, context);
    res.setHeader('X-Request-Id', id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Not even the request's logger is made when its line would be dropped.
      if (!logger.isLevelEnabled('info')) return;
      // The path only: query strings carry codes, states and tokens.
      context.log.info(
        { method: req.method, path: requestPath(req), status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 },
        'request',
      );
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
