import * as oauth from 'oauth4webapi';
import { pkceAuthorizationUrl } from '../../portal/oauth-client/authorization-url.js';

describe('pkceAuthorizationUrl', () => {
  test('the code flow with PKCE S256: the verifier stays here, its challenge goes', async () => {
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const url = await pkceAuthorizationUrl('https://as.example/authorize', {
      clientId: 'portal',
      redirectUri: 'https://portal.example/cb',
      state: 's1',
      codeVerifier,
      parameters: { scope: 'openid email', resource: 'https://api.example/' },
    });
    expect(url.origin + url.pathname).toBe('https://as.example/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'portal',
      redirect_uri: 'https://portal.example/cb',
      state: 's1',
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      scope: 'openid email',
      resource: 'https://api.example/',
    });
    expect(url.href).not.toContain(codeVerifier);
  });

  test("a query the endpoint has is kept (RFC 6749 §3.1); the request's own parameters win", async () => {
    const url = await pkceAuthorizationUrl('https://as.example/authorize?tenant=acme&state=theirs', {
      clientId: 'portal',
      redirectUri: 'https://portal.example/cb',
      state: 'ours',
      codeVerifier: oauth.generateRandomCodeVerifier(),
    });
    expect(url.searchParams.get('tenant')).toBe('acme');
    expect(url.searchParams.getAll('state')).toEqual(['ours']);
  });
});
