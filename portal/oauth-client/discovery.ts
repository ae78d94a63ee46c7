import * as oauth from 'oauth4webapi';
import { OAuthClientError, unexpectedResponseStatus } from './failure.js';

/** Which metadata documents to ask for, in order (RFC 8414 §3 `oauth2`, OpenID Connect Discovery 1.0 §4 `oidc`). */
export type DiscoveryAlgorithm = 'oauth2' | 'oidc';

/** How discovery requests are sent: oauth4webapi's transport options (the guarded fetcher, or plain fetch on loopback). */
export type DiscoveryRequestOptions = Omit<oauth.DiscoveryRequestOptions, 'algorithm'>;

/**
 * An authorization server's metadata, validated by oauth4webapi (its `issuer` is the one asked
 * for, RFC 8414 §3.3). Each algorithm is tried in turn while the previous one found no document
 * (404); any other failure is thrown as oauth4webapi or the transport threw it, for the caller to
 * classify ({@link classifyOAuthFailure}).
 */
export async function discoverAuthorizationServer(
  issuer: string | URL,
  algorithms: readonly DiscoveryAlgorithm[],
  requestOptions: DiscoveryRequestOptions,
): Promise<oauth.AuthorizationServer> {
  const identifier = new URL(issuer);
  for (const [i, algorithm] of algorithms.entries()) {
    try {
      return await oauth.processDiscoveryResponse(identifier, await oauth.discoveryRequest(identifier, { ...requestOptions, algorithm }));
    } catch (error) {
      if (i === algorithms.length - 1 || unexpectedResponseStatus(error) !== 404) throw error;
    }
  }
  throw new OAuthClientError('invalid_response', `${identifier.href}: no metadata`);
}

/** Metadata of an authorization server that can run the authorization code flow. */
export type CodeFlowServer = oauth.AuthorizationServer & { authorization_endpoint: string; token_endpoint: string };

/**
 * Checks the metadata names what the authorization code flow needs (RFC 8414 §2: both are
 * optional in metadata), so a caller can use them without asking again.
 *
 * @throws {OAuthClientError} `invalid_response`.
 */
export function requireCodeFlowEndpoints(as: oauth.AuthorizationServer): CodeFlowServer {
  if (!as.authorization_endpoint || !as.token_endpoint)
    throw new OAuthClientError('invalid_response', `${as.issuer}: metadata lacks an authorization or token endpoint`);
  return as as CodeFlowServer;
}
