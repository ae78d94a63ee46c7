import * as oauth from 'oauth4webapi';
import { DEVICE_CODE_GRANT_TYPE } from '../oauth/grant-types.js';
import { discoverAuthorizationServer as discoverMetadata } from '../oauth-client/discovery.js';
import { isLoopbackHost } from '../net/addresses.js';
import { CliError } from './args.js';

/** The loopback redirect URI the CLI registers; any port is accepted at loopback addresses (RFC 8252 §7.3). */
export const LOOPBACK_REDIRECT_URI = 'http://127.0.0.1/callback';

/** What a token request resolves to, with `expires_at` in seconds since the epoch. */
export interface Tokens {
  access_token: string;
  refresh_token?: string;
  expires_at?: number;
  scope?: string;
}

/** Plain `http:` is allowed to loopback addresses only (a portal on the same machine); anywhere else, TLS. */
export function requestOptions(url: string | URL): { [oauth.allowInsecureRequests]?: true } {
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && isLoopbackHost(hostname) ? { [oauth.allowInsecureRequests]: true } : {};
}

/** The authorization server's metadata: RFC 8414 first, then OpenID Connect Discovery (some servers publish only that). */
export async function discoverAuthorizationServer(issuer: string): Promise<oauth.AuthorizationServer> {
  try {
    return await discoverMetadata(issuer, ['oauth2', 'oidc'], requestOptions(issuer));
  } catch (error) {
    throw new CliError(`cannot discover the authorization server ${issuer}: ${describe(error)}`, 1);
  }
}

/**
 * Registers the CLI as a public native client (RFC 7591; RFC 8252 §8.4: no secret a person's
 * machine could keep), for the device grant and the loopback browser flow, with refresh tokens.
 */
export async function registerCli(as: oauth.AuthorizationServer): Promise<string> {
  if (!as.registration_endpoint)
    throw new CliError(
      `${as.issuer} offers no client registration: set GATEHOUSE_CLIENT_ID to a client id its operator registered for the CLI`,
      1,
    );
  const metadata = {
    client_name: 'gatehouse CLI',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: [DEVICE_CODE_GRANT_TYPE, 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [LOOPBACK_REDIRECT_URI],
  };
  try {
    const client = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(as, metadata, requestOptions(as.registration_endpoint)),
    );
    return client.client_id;
  } catch (error) {
    throw new CliError(`${as.issuer} refused to register the CLI: ${describe(error)}`, 1);
  }
}

/** Which resource and scope a sign-in asks for (RFC 8707 `resource`, RFC 6749 §3.3 `scope`). */
export interface Audience {
  resource?: string;
  scope?: string;
}

/** The audience as request parameters, those set only. */
export function audienceParameters(audience: Audience): Record<string, string> {
  return { ...(audience.scope ? { scope: audience.scope } : {}), ...(audience.resource ? { resource: audience.resource } : {}) };
}

/**
 * The device authorization grant (RFC 8628): asks for a code, tells the person where to enter it
 * (`tell`), then polls at the interval the server asks for, five seconds slower after each
 * `slow_down` (§3.5), until the person answers or the code expires.
 */
export async function deviceSignIn(
  as: oauth.AuthorizationServer,
  clientId: string,
  audience: Audience,
  tell: (message: string) => void,
  signal?: AbortSignal,
): Promise<Tokens> {
  const client: oauth.Client = { client_id: clientId };
  const options = requestOptions(as.issuer);
  const device = await oauth.processDeviceAuthorizationResponse(
    as,
    client,
    await oauth.deviceAuthorizationRequest(as, client, oauth.None(), audienceParameters(audience), options),
  );
  tell(
    `To sign in, open ${device.verification_uri} and enter the code ${device.user_code}` +
      `${device.verification_uri_complete ? `\n(or open ${device.verification_uri_complete})` : ''}\nWaiting for you to approve it…\n`,
  );
  let intervalMs = (device.interval ?? 5) * 1000;
  const deadline = Date.now() + device.expires_in * 1000;
  while (Date.now() < deadline) {
    await sleep(intervalMs, signal);
    try {
      return withExpiry(
        await oauth.processDeviceCodeResponse(
          as,
          client,
          await oauth.deviceCodeGrantRequest(as, client, oauth.None(), device.device_code, options),
        ),
      );
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError && error.error === 'authorization_pending') continue;
      if (error instanceof oauth.ResponseBodyError && error.error === 'slow_down') {
        intervalMs += 5_000;
        continue;
      }
      throw signInFailure(error);
    }
  }
  throw new CliError('the code expired before it was approved; run the command again', 3);
}

/** Refreshes tokens (RFC 6749 §6), for the same resource. */
export async function refreshTokens(
  as: oauth.AuthorizationServer,
  clientId: string,
  refreshToken: string,
  audience: Audience,
): Promise<Tokens> {
  const client: oauth.Client = { client_id: clientId };
  const response = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, {
    ...requestOptions(as.issuer),
    additionalParameters: audience.resource ? { resource: audience.resource } : undefined,
  });
  const tokens = withExpiry(await oauth.processRefreshTokenResponse(as, client, response));
  // A server that does not rotate refresh tokens keeps the old one valid (RFC 6749 §6).
  return { ...tokens, refresh_token: tokens.refresh_token ?? refreshToken };
}

/** Revokes a token (RFC 7009); a server without a revocation endpoint leaves nothing to do. */
export async function revokeToken(as: oauth.AuthorizationServer, clientId: string, token: string): Promise<boolean> {
  if (!as.revocation_endpoint) return false;
  const client: oauth.Client = { client_id: clientId };
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.None(), token, requestOptions(as.issuer)));
  return true;
}

/** A token response with its lifetime turned into a point in time. */
export function withExpiry(response: oauth.TokenEndpointResponse): Tokens {
  return {
    access_token: response.access_token,
    ...(response.refresh_token ? { refresh_token: response.refresh_token } : {}),
    ...(response.expires_in !== undefined ? { expires_at: Math.floor(Date.now() / 1000) + response.expires_in } : {}),
    ...(response.scope ? { scope: response.scope } : {}),
  };
}

/** A failed sign-in as one line: the server's OAuth error code and description when it gave one. */
export function signInFailure(error: unknown): CliError {
  if (error instanceof oauth.ResponseBodyError) {
    const denied = error.error === 'access_denied' || error.error === 'expired_token';
    return new CliError(`sign-in failed: ${error.error}${error.error_description ? ` (${error.error_description})` : ''}`, denied ? 3 : 1);
  }
  if (error instanceof CliError) return error;
  return new CliError(`sign-in failed: ${describe(error)}`, 1);
}

export function describe(error: unknown): string {
  if (error instanceof oauth.ResponseBodyError) return `${error.error}${error.error_description ? `: ${error.error_description}` : ''}`;
  const cause = (error as Error)?.cause;
  return `${(error as Error)?.message ?? String(error)}${cause instanceof Error ? ` (${cause.message})` : ''}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new CliError('sign-in cancelled', 1));
      },
      { once: true },
    );
  });
}
