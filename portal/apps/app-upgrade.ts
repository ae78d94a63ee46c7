import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { upstreamCredentialHeaders } from '../credentials/upstream-credentials.js';
import { HttpError } from '../http/errors.js';
import { assertSingleHost } from '../http/host-header.js';
import { mayUseUpstream } from '../policy/access.js';
import { sessionIdentity } from './app-caller.js';
import { appForHost, appForPath, hostMount, isPortalHost, pathMount } from './app-mounts.js';
import type { AppsDeps } from './apps-deps.js';

/**
 * The server's `'upgrade'` handler (WebSockets): passes an upgrade through to the app for a
 * signed-in person (session cookie), by the same routing, access rules and header hygiene as
 * plain requests. Agents' bearer tokens are not accepted here. Anything else is answered on the
 * raw socket (404, 401, 403, 503) and closed.
 */
export function appUpgradeHandler(deps: AppsDeps, log: (error: unknown) => void): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    upgrade(deps, req, socket, head).catch((error: unknown) => {
      const known = error instanceof HttpError ? error : new HttpError(503, 'temporarily_unavailable', 'try again shortly');
      if (!(error instanceof HttpError)) log(error);
      refuse(socket, known);
    });
  };
}

async function upgrade(deps: AppsDeps, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  assertSingleHost(req);
  const hostApp = appForHost(deps.upstreams(), req.headers.host);
  const pathApp = hostApp ? undefined : appForPath(deps.upstreams(), req.url ?? '/');
  const mount = hostApp ? hostMount(deps.issuer, hostApp) : pathApp && isPortalHost(deps.issuer, req.headers.host) ? pathMount(deps.issuer, pathApp) : undefined;
  if (!mount) throw new HttpError(404, 'not_found', 'no app here');
  const auth = await sessionIdentity(deps, mount, req);
  if (!auth) throw new HttpError(401, 'login_required', 'sign in to the portal first');
  if (!mayUseUpstream(auth.person, mount.upstream)) throw new HttpError(403, 'access_denied', 'you may not use this app');
  const headers = await upstreamCredentialHeaders(mount.upstream, auth, deps.assertions, deps.credentials);
  // The proxy answers its own failures on the socket; nothing more to do with them here.
  await deps.proxies.get(mount).upgrade(req, socket, head, { headers, stripCookies: deps.portalCookies }).catch(() => undefined);
}

function refuse(socket: Duplex, error: HttpError): void {
  if (!socket.writable) return;
  const body = JSON.stringify({ error: error.code, error_description: error.message });
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
