import type { UpstreamConfig } from '../config/schema.js';
import type { GuardedFetch } from '../net/guarded-fetch.js';
import { oauthTransport, type OAuthTransport } from '../net/oauth-transport.js';

/** oauth4webapi's transport for requests made for one upstream; `signal`: the person's request went away. */
export type UpstreamTransport = (upstream: UpstreamConfig, signal?: AbortSignal) => OAuthTransport;

/** Requests for an upstream go through the guarded fetcher, trusting only the origins the operator configured for it. */
export function createUpstreamTransport(guardedFetch: GuardedFetch): UpstreamTransport {
  return (upstream, signal) => oauthTransport(guardedFetch, { trustedOrigins: operatorOrigins(upstream), signal });
}

/**
 * The origins the operator wrote for `upstream`: its URL's, and its configured authorization
 * server's. What is on them is fetched wherever they are (the upstreams of tests and the demo live
 * on loopback); anything else an upstream names is learned, and guarded.
 */
export function operatorOrigins(upstream: UpstreamConfig): string[] {
  const configured = [upstream.url, upstream.credentials.authorizationServer].filter((u): u is string => u !== undefined);
  return [...new Set(configured.map((u) => new URL(u).origin))];
}
