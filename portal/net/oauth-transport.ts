import * as oauth from 'oauth4webapi';
import type { GuardedFetch, GuardedRequestInit } from './guarded-fetch.js';

/** oauth4webapi's transport options, in a shape every one of its requests accepts. */
export interface OAuthTransport {
  [oauth.allowInsecureRequests]: boolean;
  [oauth.customFetch]: (url: string, init: oauth.CustomFetchOptions<string, string | URLSearchParams | undefined>) => Promise<Response>;
}

/**
 * Options that make oauth4webapi send its requests through a guarded fetcher: oauth4webapi still
 * does all the OAuth (building requests, validating answers); the fetcher decides where they may
 * go, http versus https included (so oauth4webapi's own https check stands aside).
 */
export function oauthTransport(fetcher: GuardedFetch, extra: Pick<GuardedRequestInit, 'trustedOrigins' | 'signal'>): OAuthTransport {
  return { [oauth.allowInsecureRequests]: true, [oauth.customFetch]: (url, init) => fetcher(url, { ...init, ...extra }) };
}
