import * as oauth from 'oauth4webapi';
import { FormBrowser } from './browser-form-client.js';
import { buildAuthorizeUrl, insecure } from './strict-client.js';

const REDIRECT_URI = 'http://127.0.0.1:9999/callback';

/**
 * An access token for `resource` (RFC 8707), the way a strict agent gets one: discovery,
 * dynamic registration, PKCE authorization (sign-in and consent as `person`), code exchange —
 * all validated by oauth4webapi. `discoveredFrom` is the authorization server's issuer URL.
 */
export async function accessTokenFor(issuer: string, person: { username: string; password: string }, resource: string): Promise<string> {
  const url = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, insecure));
  const client = (await oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(
      as,
      { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], client_name: 'App agent' },
      insecure,
    ),
  )) as oauth.Client;
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const authorize = await buildAuthorizeUrl(as, client.client_id, { redirectUri: REDIRECT_URI, verifier, state, resource });
  const callback = await new FormBrowser(issuer).authorize(authorize.href, person);
  const params = oauth.validateAuthResponse(as, client, callback, state);
  const tokens = await oauth.processAuthorizationCodeResponse(
    as,
    client,
    await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, {
      ...insecure,
      additionalParameters: { resource },
    }),
  );
  return tokens.access_token;
}
