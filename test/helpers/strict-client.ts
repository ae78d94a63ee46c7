import * as oauth from 'oauth4webapi';

/** oauth4webapi's option to talk to the test portal over http on loopback. */
export const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** An authorization request URL (OAuth 2.1 §4.1.1 with PKCE S256), as oauth4webapi clients build it. */
export async function buildAuthorizeUrl(
  as: oauth.AuthorizationServer,
  clientId: string,
  params: { redirectUri: string; verifier: string; state?: string; scope?: string; resource?: string },
): Promise<URL> {
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: params.redirectUri,
    response_type: 'code',
    code_challenge: await oauth.calculatePKCECodeChallenge(params.verifier),
    code_challenge_method: 'S256',
    ...(params.state ? { state: params.state } : {}),
    scope: params.scope ?? 'mcp',
    ...(params.resource ? { resource: params.resource } : {}),
  }).toString();
  return url;
}
