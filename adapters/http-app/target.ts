import http, { type IncomingMessage, type RequestOptions } from 'node:http';
import https from 'node:https';
import { noSuchPath } from './errors.js';
import type { ForwardedContext } from './headers.js';
import type { HttpAppProxyOptions } from './options.js';
import type { RewriteTarget } from './rewrite.js';
import { toUpstreamPath } from './upstream-path.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_RESPONSE_TIMEOUT_MS = 60_000;

/** Everything about one upstream app that the proxy works out once, at creation. */
export interface UpstreamTarget {
  url: URL;
  isTls: boolean;
  transport: typeof http | typeof https;
  agent: http.Agent;
  /** host, port, agent and TLS server name for `transport.request`. */
  requestOptions: RequestOptions;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  forwarded: ForwardedContext;
  rewrite: RewriteTarget;
  /** The upstream path for a portal request (see `toUpstreamPath`); throws 400/404 `GatewayError`s. */
  upstreamPath(req: IncomingMessage): string;
}

/** Validates the options and prepares the upstream: URL parts, a keep-alive agent, the rewrite rules. */
export function resolveTarget(options: HttpAppProxyOptions): UpstreamTarget {
  const url = new URL(options.upstreamUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`upstreamUrl must be http(s): ${options.upstreamUrl}`);
  if (options.mountPath && (!options.mountPath.startsWith('/') || options.mountPath.endsWith('/'))) {
    throw new TypeError(`mountPath must be '' or start with / and not end with one: ${options.mountPath}`);
  }
  const isTls = url.protocol === 'https:';
  const agent = isTls ? new https.Agent({ keepAlive: true, ...options.tls }) : new http.Agent({ keepAlive: true });
  const basePath = url.pathname.replace(/\/+$/, '');
  const mountPath = options.mountPath;
  return {
    url,
    isTls,
    transport: isTls ? https : http,
    agent,
    requestOptions: { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || (isTls ? 443 : 80), agent },
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    responseTimeoutMs: options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS,
    forwarded: { trustForwarded: options.trustForwarded ?? false, mountPath },
    rewrite: { upstreamOrigin: url.origin, basePath, mountPath },
    upstreamPath(req) {
      // Behind an express mount `req.url` has lost the prefix; `originalUrl` still has it.
      const raw = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
      const path = toUpstreamPath(raw, mountPath, basePath);
      if (path === undefined) throw noSuchPath();
      return path;
    },
  };
}
