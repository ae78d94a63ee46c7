import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { badGateway, gatewayTimeout } from './errors.js';
import type { HttpAppProxyOptions } from './options.js';
import { assertUnambiguousFraming, endToEndResponseHeaders, upstreamRequestHeaders, type ForwardOptions } from './headers.js';
import { rewriteLocation, rewriteSetCookie, type RewriteTarget } from './rewrite.js';
import { resolveTarget, type UpstreamTarget } from './target.js';
import { proxyUpgrade } from './upgrade.js';

export type { ForwardOptions, ResponseInterceptor } from './headers.js';
export type { HttpAppProxyOptions } from './options.js';

/**
 * Proxies one request to the app, streaming both bodies. Resolves when the response is done (or
 * the client went away). Rejects with a `GatewayError` — 400 `invalid_request` (smuggling shapes,
 * traversal), 404 `not_found` (URL not under the mount), 502 `bad_gateway`, 504
 * `gateway_timeout` — only while nothing has been sent, so the portal's error handler can answer;
 * a failure after the headers went out cuts the client connection instead.
 */
export interface HttpAppProxy {
  (req: IncomingMessage, res: ServerResponse, forward?: ForwardOptions): Promise<void>;
  /**
   * Passes an HTTP/1.1 `Upgrade` (WebSocket) request through: call it from the server's
   * `'upgrade'` event. See {@link proxyUpgrade} for how failures are answered.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, forward?: ForwardOptions): Promise<void>;
  /** Closes idle keep-alive connections to the upstream. */
  close(): void;
}

/**
 * A streaming reverse proxy for one plain HTTP app, on `node:http`/`node:https`.
 *
 * @example
 * const wiki = createHttpAppProxy({ upstreamUrl: 'http://127.0.0.1:4000', mountPath: '/apps/wiki' });
 * app.use('/apps/wiki', (req, res, next) => wiki(req, res, { headers: { 'gatehouse-assertion': jwt }, stripCookies: ['gh_session'] }).catch(next));
 */
export function createHttpAppProxy(options: HttpAppProxyOptions): HttpAppProxy {
  const target = resolveTarget(options);
  const proxy = ((req, res, forward = {}) => proxyRequest(target, req, res, forward)) as HttpAppProxy;
  proxy.upgrade = (req, socket, head, forward = {}) => proxyUpgrade(target, req, socket, head, forward);
  proxy.close = () => target.agent.destroy();
  return proxy;
}

// async: the checks below throw, and callers expect a rejected promise, never a synchronous throw.
async function proxyRequest(target: UpstreamTarget, req: IncomingMessage, res: ServerResponse, forward: ForwardOptions): Promise<void> {
  assertUnambiguousFraming(req);
  const path = target.upstreamPath(req);
  const headers = upstreamRequestHeaders(req, target.url.host, forward, target.forwarded);
  const bodiless = hasNoBody(req);
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let upstreamReq: ClientRequest;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      if (error) upstreamReq.destroy();
      // Only an error before anything was sent can still become an error page.
      if (error && !res.headersSent) {
        req.unpipe(upstreamReq);
        reject(error);
        return;
      }
      if (error) res.destroy();
      resolve();
    };
    // One idle timer, refreshed by traffic either way: it covers a slow connect, an upstream that
    // never answers, and one that stalls mid-body, without assuming how big the bodies are.
    const arm = (ms: number, reason: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(gatewayTimeout(reason)), ms);
    };
    const touch = () => timer?.refresh();
    const onConnected = () => arm(target.responseTimeoutMs, `no answer within ${target.responseTimeoutMs} ms`);

    const send = (retried: boolean) => {
      upstreamReq = target.transport.request({ ...target.requestOptions, method: req.method, path, headers });
      arm(target.connectTimeoutMs, `no connection within ${target.connectTimeoutMs} ms`);
      upstreamReq.on('socket', (socket) => {
        if (!socket.connecting)
          onConnected(); // a reused keep-alive connection
        else socket.once(target.isTls ? 'secureConnect' : 'connect', onConnected);
      });
      upstreamReq.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive connection the app closed just as it was reused (its idle timeout): the
        // request never reached it, so one without a body goes again on a new connection.
        if (bodiless && !retried && upstreamReq.reusedSocket && error.code === 'ECONNRESET' && !settled) return send(true);
        finish(badGateway(`${error.code ?? 'error'}: ${error.message}`, error));
      });
      upstreamReq.on('response', (upstreamRes) => {
        touch();
        const headers = responseHeaders(upstreamRes, target.rewrite, forward.stripCookies ?? []);
        upstreamRes.on('data', touch);
        upstreamRes.on('error', () => finish(badGateway('upstream response aborted')));
        const intercept = forward.interceptResponse?.(upstreamRes, headers);
        if (intercept) {
          intercept(res).catch((error: Error) => finish(error));
          return;
        }
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, headers);
        upstreamRes.pipe(res);
      });
      if (bodiless) upstreamReq.end();
      else req.pipe(upstreamReq);
    };
    send(false);
    req.on('data', touch);
    res.on('finish', () => finish());
    // The client went away (or the response was cut): stop the upstream work too.
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
      finish();
    });
  });
}

/** A request that says it has no body (no `Transfer-Encoding`, no or a zero `Content-Length`): it can be sent again as it is. */
function hasNoBody(req: IncomingMessage): boolean {
  return (
    req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] === undefined || req.headers['content-length'] === '0')
  );
}

function responseHeaders(upstreamRes: IncomingMessage, rewrite: RewriteTarget, portalCookies: readonly string[]): OutgoingHttpHeaders {
  const headers = endToEndResponseHeaders(upstreamRes.headers);
  if (typeof headers.location === 'string') headers.location = rewriteLocation(headers.location, rewrite);
  const cookies = upstreamRes.headers['set-cookie'];
  if (cookies) {
    const kept = cookies
      .map((cookie) => rewriteSetCookie(cookie, rewrite, portalCookies))
      .filter((cookie): cookie is string => cookie !== undefined);
    if (kept.length) headers['set-cookie'] = kept;
    else delete headers['set-cookie'];
  }
  return headers;
}
