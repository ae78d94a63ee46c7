import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import * as oauth from 'oauth4webapi';
import { pkceAuthorizationUrl } from '../oauth-client/authorization-url.js';
import { CliError } from './args.js';
import { audienceParameters, requestOptions, signInFailure, withExpiry, type Audience, type Tokens } from './oauth-client.js';

const CALLBACK_PATH = '/callback';
const WAIT_MS = 5 * 60_000;

/**
 * The authorization code flow for a native app (RFC 8252): PKCE (S256), a `state`, and a
 * one-shot listener at `http://127.0.0.1:{port}/callback` (§7.3), the registered URI with the
 * port the system gave. Only that exact path answers; the response is checked (state, `iss` per
 * RFC 9207) by oauth4webapi before the code is exchanged. The person's browser is started with
 * `$BROWSER` when set; the URL is always shown, for a browser elsewhere.
 */
export async function browserSignIn(
  as: oauth.AuthorizationServer,
  clientId: string,
  audience: Audience,
  tell: (message: string) => void,
  env: NodeJS.ProcessEnv,
): Promise<Tokens> {
  if (!as.authorization_endpoint) throw new CliError(`${as.issuer} has no authorization endpoint: sign in without --browser`, 1);
  const client: oauth.Client = { client_id: clientId };
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const redirectUri = `http://127.0.0.1:${(server.address() as { port: number }).port}${CALLBACK_PATH}`;
    const url = await pkceAuthorizationUrl(as.authorization_endpoint, {
      clientId,
      redirectUri,
      state,
      codeVerifier: verifier,
      parameters: audienceParameters(audience),
    });
    tell(`To sign in, open this address in your browser:\n${url.href}\nWaiting for the browser to come back…\n`);
    if (env.BROWSER)
      spawn(env.BROWSER, [url.href], { stdio: 'ignore', detached: true })
        .on('error', () => undefined)
        .unref();

    const callback = await waitForCallback(server, redirectUri);
    let params: URLSearchParams;
    try {
      params = oauth.validateAuthResponse(as, client, callback, state);
    } catch (error) {
      throw signInFailure(
        error instanceof oauth.AuthorizationResponseError
          ? new CliError(`sign-in failed: ${error.error}${error.error_description ? ` (${error.error_description})` : ''}`, 3)
          : error,
      );
    }
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, {
      ...requestOptions(as.issuer),
      additionalParameters: audience.resource ? { resource: audience.resource } : undefined,
    });
    return withExpiry(await oauth.processAuthorizationCodeResponse(as, client, response));
  } catch (error) {
    throw signInFailure(error);
  } finally {
    server.close();
  }
}

/** The first request to the callback path, answered with a page telling the person to go back to the terminal. */
function waitForCallback(server: Server, redirectUri: string): Promise<URL> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new CliError('nobody signed in within 5 minutes; run the command again', 3)), WAIT_MS);
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', redirectUri);
      if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH) {
        res.writeHead(404).end();
        return;
      }
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end('<!doctype html><title>Gatehouse</title><p>You can close this page and go back to your terminal.</p>');
      clearTimeout(timer);
      resolve(url);
    });
  });
}
