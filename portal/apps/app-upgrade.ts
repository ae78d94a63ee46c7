import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpError, knownHttpError } from '../http/errors.js';
import { PORTAL_COOKIE_NAMES } from '../http/portal-cookies.js';
import { assertSingleHost } from '../http/host-header.js';
import { mayUseUpstream } from '../policy/access.js';
import { bearerIdentity, sessionIdentity } from './app-caller.js';
import { appForHost, appForPath, hostMount, isPortalHost, pathMount, type AppMount } from './app-mounts.js';
import type { AppsDeps } from './apps-deps.js';

/**
 * The server's `'upgrade'` handler (WebSockets): passes an upgrade through to the app by the same
 * routing, access rules and header hygiene as plain requests. Anything else is answered on the raw
 * socket (403, 404, 401 with the bearer challenge, 503) and closed; nothing reaches the app.
 *
 * Who may open one, and from which page (cross-site WebSocket hijacking: a handshake is not
 * subject to CORS, and a browser attaches the person's cookies whichever site's page asks):
 * - an `Origin`, when sent, must be the app's own: the portal's origin (or a loopback alias of it,
 *   as for routing) for a path-routed app, the app host's origin for a host-routed one. Pages of
 *   path-routed apps share the portal's origin, so they may not reach a host-routed app;
 * - a browser session (the session cookie) must send an `Origin` (every browser does on a
 *   WebSocket handshake, RFC 6455 §4.1): without one, nothing says whose page asks;
 * - a bearer token (`Authorization`, which no page can attach to a browser's WebSocket) needs no
 *   `Origin`: the token is the agent's own, not an ambient credential a foreign page could borrow.
 */
export function appUpgradeHandler(
  deps: AppsDeps,
  log: (error: unknown) => void,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    upgrade(deps, req, socket, head).catch((error: unknown) => {
      const known = knownHttpError(error);
      if (!known) log(error);
      refuse(socket, known ?? new HttpError(503, 'temporarily_unavailable', 'try again shortly'));
    });
  };
}

async function upgrade(deps: AppsDeps, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  assertSingleHost(req);
  const hostApp = isPortalHost(deps.issuer, req.headers.host) ? undefined : appForHost(deps.upstreams(), req.headers.host);
  const pathApp = hostApp ? undefined : appForPath(deps.upstreams(), req.url ?? '/');
  const mount = hostApp
    ? hostMount(deps.issuer, hostApp)
    : pathApp && isPortalHost(deps.issuer, req.headers.host)
      ? pathMount(deps.issuer, pathApp)
      : undefined;
  if (!mount) throw new HttpError(404, 'not_found', 'no app here');
  const origin = req.headers.origin;
  if (origin !== undefined && !isAppOrigin(deps.issuer, mount, origin))
    throw forbiddenOrigin('this page may not open a WebSocket to the app');
  const auth = req.headers.authorization ? await bearerIdentity(deps, mount, req) : await sessionIdentity(deps, mount, req);
  if (!auth) throw new HttpError(401, 'login_required', 'sign in to the portal first');
  if (origin === undefined && !req.headers.authorization)
    throw forbiddenOrigin('a browser session may open a WebSocket only from a page that names its Origin');
  if (!mayUseUpstream(auth.person, mount.upstream)) throw new HttpError(403, 'access_denied', 'you may not use this app');
  const headers = await deps.credentials.headersFor(mount.upstream, auth);
  // The proxy answers its own failures on the socket; nothing more to do with them here.
  await deps.proxies
    .get(mount)
    .upgrade(req, socket, head, { headers, stripCookies: PORTAL_COOKIE_NAMES })
    .catch(() => undefined);
}

/** Whether `origin` is the app's own (RFC 6454 §4 serialization, compared as origins). */
function isAppOrigin(issuer: string, mount: AppMount, origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // `null` (sandboxed frames, opaque origins) and anything malformed
  }
  if (mount.mountPath) return url.protocol === new URL(issuer).protocol && isPortalHost(issuer, url.host);
  return url.origin === new URL(mount.publicUrl).origin;
}

function forbiddenOrigin(message: string): HttpError {
  return new HttpError(403, 'invalid_origin', message);
}

function refuse(socket: Duplex, error: HttpError): void {
  if (!socket.writable) return;
  const body = JSON.stringify({ error: error.code, error_description: error.message });
  // The error's own headers too: a bearer failure's `WWW-Authenticate` challenge (RFC 6750 §3).
  const extra = Object.entries(error.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}
