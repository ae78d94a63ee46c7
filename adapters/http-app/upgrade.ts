import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { badGateway, GatewayError, gatewayTimeout, rejectedRequest } from './errors.js';
import { assertUnambiguousFraming, endToEndResponseHeaders, upstreamRequestHeaders, type ForwardOptions } from './headers.js';
import { rewriteLocation, rewriteSetCookie } from './rewrite.js';
import type { UpstreamTarget } from './target.js';

/**
 * Passes an HTTP/1.1 `Upgrade` request (WebSocket, RFC 6455 §4) through to the upstream and, once
 * it answers `101`, pipes the two sockets together byte for byte. The same header hygiene as for
 * plain requests applies (no `Authorization`, no portal cookies either way, credential headers added).
 *
 * There is no response object in an upgrade, so failures are answered here, on the raw socket, as
 * a small JSON error (`{ error, error_description }`) with the same status and code the portal's
 * error handler would use; the promise then rejects with that `GatewayError` for logging. An upstream
 * that declines the upgrade has its answer relayed. Resolves once the sockets are joined.
 */
export function proxyUpgrade(
  target: UpstreamTarget,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  forward: ForwardOptions,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const refuse = (error: GatewayError) => {
      clearTimeout(timer);
      upstreamReq?.destroy();
      writeError(socket, error);
      reject(error);
    };
    let upstreamReq: ReturnType<UpstreamTarget['transport']['request']> | undefined;
    let timer: NodeJS.Timeout | undefined;
    let path: string;
    try {
      assertUnambiguousFraming(req);
      if (!req.headers.upgrade) throw rejectedRequest('the request asks for no protocol upgrade');
      path = target.upstreamPath(req);
    } catch (error) {
      if (error instanceof GatewayError) refuse(error);
      else reject(error);
      return;
    }
    const headers: OutgoingHttpHeaders = {
      ...upstreamRequestHeaders(req, target.url.host, forward, target.forwarded),
      connection: 'Upgrade',
      upgrade: req.headers.upgrade,
    };
    timer = setTimeout(
      () => refuse(gatewayTimeout(`no upgrade answer within ${target.connectTimeoutMs + target.responseTimeoutMs} ms`)),
      target.connectTimeoutMs + target.responseTimeoutMs,
    );
    upstreamReq = target.transport.request({ ...target.requestOptions, method: req.method, path, headers });
    socket.on('error', () => upstreamReq?.destroy());
    upstreamReq.on('error', (error: NodeJS.ErrnoException) => refuse(badGateway(`${error.code ?? 'error'}: ${error.message}`, error)));
    upstreamReq.on('upgrade', (upstreamRes, upstreamSocket, upstreamHead) => {
      clearTimeout(timer);
      socket.write(`${statusLine(upstreamRes) + switchingHeaderLines(upstreamRes.rawHeaders, target, forward)}\r\n`);
      if (upstreamHead.length) socket.write(upstreamHead);
      if (head.length) upstreamSocket.write(head);
      const closeBoth = () => {
        socket.destroy();
        upstreamSocket.destroy();
      };
      upstreamSocket.on('error', closeBoth).on('close', closeBoth);
      socket.on('error', closeBoth).on('close', closeBoth);
      upstreamSocket.pipe(socket).pipe(upstreamSocket);
      resolve();
    });
    upstreamReq.on('response', (upstreamRes) => {
      // The upstream said no (401, 400, …): relay its answer, delimited by closing the connection.
      clearTimeout(timer);
      const relayed = endToEndResponseHeaders(upstreamRes.headers);
      delete relayed['content-length'];
      if (typeof relayed.location === 'string') relayed.location = rewriteLocation(relayed.location, target.rewrite);
      const cookies = (upstreamRes.headers['set-cookie'] ?? [])
        .map((c) => rewriteSetCookie(c, target.rewrite, forward.stripCookies ?? []))
        .filter((c): c is string => !!c);
      relayed['set-cookie'] = cookies;
      socket.write(`${statusLine(upstreamRes) + headerLines({ ...relayed, connection: 'close' })}\r\n`);
      upstreamRes.pipe(socket);
      upstreamRes.on('error', () => socket.destroy());
      resolve();
    });
    upstreamReq.end();
  });
}

function statusLine(res: IncomingMessage): string {
  const status = res.statusCode ?? 502;
  return `HTTP/1.1 ${status} ${(res.statusMessage || STATUS_CODES[status]) ?? ''}\r\n`;
}

/** The `101` answer's header lines as the upstream wrote them, but for `Set-Cookie`: rewritten for the mount, the portal's own refused. */
function switchingHeaderLines(raw: string[], target: UpstreamTarget, forward: ForwardOptions): string {
  let out = '';
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const value =
      raw[i]!.toLowerCase() === 'set-cookie' ? rewriteSetCookie(raw[i + 1]!, target.rewrite, forward.stripCookies ?? []) : raw[i + 1];
    if (value !== undefined) out += `${raw[i]}: ${value}\r\n`;
  }
  return out;
}

function headerLines(headers: OutgoingHttpHeaders): string {
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) out += `${name}: ${one}\r\n`;
  }
  return out;
}

function writeError(socket: Duplex, error: GatewayError): void {
  if (!socket.writable) return;
  const body = JSON.stringify({ error: error.code, error_description: error.message });
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\n` +
      headerLines({
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        connection: 'close',
      }) +
      `\r\n${body}`,
  );
}
