import type { ForwardOptions } from '../../adapters/http-app/proxy.js';
import { toUpstreamPath } from '../../adapters/http-app/upstream-path.js';
import { connectRequiredAsHttp, upstreamCredentialHeaders } from '../credentials/upstream-credentials.js';
import type { PortalAssertions } from '../credentials/portal-jwt.js';
import type { CredentialSources } from '../credentials/upstream-credentials.js';
import { PORTAL_COOKIE_NAMES } from '../http/portal-cookies.js';
import type { AuthContext } from '../oauth/bearer.js';
import { prefersMarkdown } from './accept.js';
import type { AppMount } from './app-mounts.js';
import { markdownInterceptor } from './markdown-response.js';

/** What every proxied request needs from the portal. */
export interface ForwardDeps {
  assertions: PortalAssertions;
  /** The `oauth` and `static` strategies (issue 6). */
  credentials?: CredentialSources;
  /** Largest HTML page converted to Markdown; larger pages are served as HTML. */
  maxMarkdownBytes?: number;
}

/**
 * The proxy's forward options for one request: the person's identity as the upstream's credential
 * headers (portal-jwt: `Gatehouse-Assertion`), the portal's cookies kept from the app both ways
 * ({@link PORTAL_COOKIE_NAMES}), and — for a
 * `markdown: true` app and a caller that prefers `text/markdown` — the HTML answer converted, with
 * links pointing at the app's portal URL. The upstream is then asked for uncompressed HTML, so
 * that there is something to convert.
 */
export async function forwardOptions(deps: ForwardDeps, mount: AppMount, auth: AuthContext, request: { url: string; accept: string | undefined }): Promise<ForwardOptions> {
  const headers = await upstreamCredentialHeaders(mount.upstream, auth, deps.assertions, deps.credentials).catch((error: unknown) => {
    // An `oauth` app the person has not connected: a browser is sent to connect it, then back here.
    throw connectRequiredAsHttp(error, { browser: /text\/html/.test(request.accept ?? ''), returnTo: mount.mountPath.startsWith('/') ? request.url : undefined });
  });
  const forward: ForwardOptions = { headers, stripCookies: PORTAL_COOKIE_NAMES };
  if (mount.upstream.markdown && prefersMarkdown(request.accept)) {
    const upstreamUrl = new URL(mount.upstream.url!);
    const path = toUpstreamPath(request.url, mount.mountPath, upstreamUrl.pathname.replace(/\/+$/, '')) ?? '/';
    Object.assign(headers, { accept: 'text/html', 'accept-encoding': 'identity' });
    forward.interceptResponse = markdownInterceptor({
      // Concatenated, not resolved: a path such as `//other.host/x` must stay a path on the app.
      pageUrl: `${upstreamUrl.origin}${path}`,
      linkMap: { upstreamUrl: mount.upstream.url!, appUrl: mount.publicUrl },
      maxBytes: deps.maxMarkdownBytes,
    });
  }
  return forward;
}
