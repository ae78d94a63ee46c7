import * as oauth from 'oauth4webapi';

/** One authorization request of the code flow, with PKCE (RFC 6749 §4.1.1, RFC 7636 §4.3). */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  state: string;
  /** The PKCE verifier; only its S256 challenge is sent (RFC 7636 §4.2). */
  codeVerifier: string;
  /** Further parameters, sent as given: `scope`, `nonce`, `resource` (RFC 8707), `prompt`. */
  parameters?: Record<string, string>;
}

/**
 * The URL a person's browser is sent to: the authorization endpoint with the request's
 * parameters added (a query the endpoint already has is kept, RFC 6749 §3.1).
 */
export async function pkceAuthorizationUrl(authorizationEndpoint: string, request: AuthorizationRequest): Promise<URL> {
  const url = new URL(authorizationEndpoint);
  const parameters: Record<string, string> = {
    response_type: 'code',
    client_id: request.clientId,
    redirect_uri: request.redirectUri,
    state: request.state,
    code_challenge: await oauth.calculatePKCECodeChallenge(request.codeVerifier),
    code_challenge_method: 'S256',
    ...request.parameters,
  };
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
  return url;
}
