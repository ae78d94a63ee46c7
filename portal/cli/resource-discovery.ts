import * as oauth from 'oauth4webapi';
import { CliError } from './args.js';
import { describe, requestOptions } from './oauth-client.js';
import { covers, type TokenTarget } from './sign-in.js';

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/**
 * Where to get a token for `url` (RFC 9728): its protected resource metadata, from the
 * `resource_metadata` URL of a `401` challenge (§5.1) or, without one, at the well-known path of
 * `url` itself (§3.1). The metadata's `resource` must be the identifier its URL was made from
 * (§3.3) and must cover `url`: a server cannot send the CLI's sign-in, and then its token, on
 * behalf of a resource it is not. The first listed authorization server is used, with the scope
 * the challenge asked for, else the resource's `scopes_supported`.
 */
export async function discoverTarget(url: URL, challenge: { metadataUrl?: URL; scope?: string } = {}): Promise<TokenTarget> {
  const metadataUrl = challenge.metadataUrl ?? new URL(`${url.origin}${WELL_KNOWN}${url.pathname === '/' ? '' : url.pathname}`);
  if (!metadataUrl.pathname.startsWith(WELL_KNOWN))
    throw new CliError(`${url.href}: its resource_metadata ${metadataUrl.href} is not an RFC 9728 metadata URL`, 1);
  const identifier = new URL(`${metadataUrl.origin}${metadataUrl.pathname.slice(WELL_KNOWN.length) || '/'}`);
  if (!covers(identifier.href, url))
    throw new CliError(`${url.href}: its resource_metadata names another resource (${identifier.href})`, 1);
  let metadata: oauth.ResourceServer;
  try {
    metadata = await oauth.processResourceDiscoveryResponse(
      identifier,
      await oauth.resourceDiscoveryRequest(identifier, requestOptions(identifier)),
    );
  } catch (error) {
    throw new CliError(`cannot read the protected resource metadata of ${url.href}: ${describe(error)}`, 1);
  }
  const issuer = metadata.authorization_servers?.[0];
  if (!issuer) throw new CliError(`${metadata.resource} names no authorization server`, 1);
  const scope = challenge.scope ?? metadata.scopes_supported?.join(' ');
  return { issuer, resource: metadata.resource, ...(scope ? { scope } : {}) };
}
