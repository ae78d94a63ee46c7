import * as oauth from 'oauth4webapi';
import { GuardedFetchError } from '../../portal/net/fetch-errors.js';
import { classifyOAuthFailure, OAuthClientError } from '../../portal/oauth-client/failure.js';

const as: oauth.AuthorizationServer = { issuer: 'https://as.example/', token_endpoint: 'https://as.example/token' };
const client: oauth.Client = { client_id: 'portal' };

/** What oauth4webapi throws when it processes `response` as a refresh token answer. */
async function tokenFailure(response: Response): Promise<unknown> {
  return oauth.processRefreshTokenResponse(as, client, response).then(
    () => undefined,
    (error: unknown) => error,
  );
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('classifyOAuthFailure', () => {
  test("the guarded fetcher: slow or down is unavailable, a refusal is the server's invalid response", () => {
    expect(classifyOAuthFailure(new GuardedFetchError('deadline', 'https://as.example/token: too slow'))).toMatchObject({
      kind: 'unavailable',
      internal: 'deadline: https://as.example/token: too slow',
    });
    expect(classifyOAuthFailure(new GuardedFetchError('unreachable', 'x'))).toMatchObject({ kind: 'unavailable' });
    expect(classifyOAuthFailure(new GuardedFetchError('blocked_address', 'x'))).toMatchObject({ kind: 'invalid_response' });
    expect(classifyOAuthFailure(new GuardedFetchError('too_large', 'x'))).toMatchObject({ kind: 'invalid_response' });
  });

  test('an error in the authorization response is a denial, with its code when it is printable', () => {
    const denied = (error: string) => {
      try {
        oauth.validateAuthResponse(as, client, new URL(`https://portal.example/cb?${new URLSearchParams({ error, state: 's' })}`), 's');
      } catch (thrown) {
        return classifyOAuthFailure(thrown);
      }
      throw new Error('expected validateAuthResponse to throw');
    };
    expect(denied('access_denied')).toMatchObject({ kind: 'denied', oauthError: 'access_denied' });
    expect(denied('x\u0000y').oauthError).toBeUndefined();
  });

  test('an OAuth error from an endpoint is a refusal; a 5xx one is an outage', async () => {
    expect(classifyOAuthFailure(await tokenFailure(json(400, { error: 'invalid_grant' })))).toMatchObject({
      kind: 'refused',
      oauthError: 'invalid_grant',
    });
    expect(classifyOAuthFailure(await tokenFailure(json(503, { error: 'temporarily_unavailable' })))).toMatchObject({
      kind: 'unavailable',
    });
  });

  test('an answer oauth4webapi rejects whole: 5xx is an outage, anything else an invalid response', async () => {
    expect(classifyOAuthFailure(await tokenFailure(new Response('down', { status: 502 })))).toMatchObject({ kind: 'unavailable' });
    expect(classifyOAuthFailure(await tokenFailure(json(200, { access_token: 42, token_type: 'bearer' })))).toMatchObject({
      kind: 'invalid_response',
    });
    expect(classifyOAuthFailure(new Error('anything else'))).toMatchObject({ kind: 'invalid_response', internal: 'error: anything else' });
  });

  test('a failure already classified is kept as it is', () => {
    const failure = new OAuthClientError('refused', 'kept', 'invalid_client');
    expect(classifyOAuthFailure(failure)).toBe(failure);
  });
});
