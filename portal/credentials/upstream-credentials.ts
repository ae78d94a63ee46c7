import type { Logger } from 'pino';
import type { AuthChallenge } from '../../adapters/mcp-upstream-types.js';
import { UpstreamConnectRequiredError } from '../../adapters/upstream-errors.js';
import { HttpError } from '../http/errors.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { AuthContext } from '../oauth/bearer.js';
import { parseBearerChallenge } from './challenge.js';
import type { UpstreamConnections } from './connections.js';
import type { ExchangedTokens } from './exchanged-tokens.js';
import type { PortalAssertions } from './portal-jwt.js';
import { inSpan } from '../tracing/spans.js';

/** The header an HTTP app reads the person's identity from (portal-jwt, and alongside `static`). */
export const ASSERTION_HEADER = 'Gatehouse-Assertion';

/** What the `oauth` and `static` strategies draw on, besides the portal's own assertions. */
export interface CredentialSources {
  /** People's own tokens at `oauth` upstreams. */
  connections: UpstreamConnections;
  /** `static` header values by upstream id, read from the environment at start-up (`Config.upstreamSecrets`). */
  staticSecrets: Record<string, string>;
  /** Upstream tokens obtained by RFC 8693 token exchange (`token-exchange`). */
  exchangedTokens: ExchangedTokens;
  logger: Logger;
}

/**
 * The headers that carry a person's identity to an upstream, per its credential strategy
 * (DESIGN.md "Tokens and identity"): never the agent's own token.
 * - `portal-jwt`: `Authorization: Bearer` to MCP upstreams, `Gatehouse-Assertion` to HTTP apps.
 * - `oauth`: the person's own token there, of the account they chose for this agent (else their
 *   first), `Authorization: Bearer` (RFC 6750 §2.1), refreshed first when it is about to expire;
 *   throws `UpstreamConnectRequiredError` when there is none.
 * - `static`: the configured secret in `credentials.header` (default `Authorization`), plus a
 *   `Gatehouse-Assertion` so that the upstream's logs can name the person.
 * - `token-exchange`: an upstream token for the person, exchanged at the upstream's token endpoint
 *   for a portal assertion with `aud` = `credentials.audience` (RFC 8693), `Authorization: Bearer`;
 *   throws `UpstreamCredentialError` (naming the upstream) when the exchange fails.
 * `credentials.header` overrides the header of each.
 */
export function upstreamCredentialHeaders(
  upstream: UpstreamConfig,
  auth: AuthContext,
  assertions: PortalAssertions,
  sources: CredentialSources,
): Promise<Record<string, string>> {
  return inSpan('credential', { 'gatehouse.upstream': upstream.id, 'gatehouse.credential_type': upstream.credentials.type }, () =>
    credentialHeaders(upstream, auth, assertions, sources),
  );
}

async function credentialHeaders(
  upstream: UpstreamConfig,
  auth: AuthContext,
  assertions: PortalAssertions,
  sources: CredentialSources,
): Promise<Record<string, string>> {
  const { credentials } = upstream;
  const audience = upstream.url ?? `urn:gatehouse:upstream:${upstream.id}`;
  switch (credentials.type) {
    case 'none':
      return {};
    case 'portal-jwt': {
      const token = await assertions.mint(auth, audience);
      const header = credentials.header ?? (upstream.kind === 'mcp' ? 'Authorization' : ASSERTION_HEADER);
      return { [header]: asHeaderValue(header, token) };
    }
    case 'oauth': {
      const token = await sources.connections.accessToken(auth, upstream);
      const header = credentials.header ?? 'Authorization';
      return { [header]: asHeaderValue(header, token) };
    }
    case 'static': {
      const secret = sources.staticSecrets[upstream.id];
      // load.ts refuses to start without it; an upstream added later without its variable lands here.
      if (secret === undefined) throw new Error(`upstream "${upstream.id}": environment variable ${credentials.valueEnv} is not set`);
      return { [credentials.header ?? 'Authorization']: secret, [ASSERTION_HEADER]: await assertions.mint(auth, audience) };
    }
    case 'token-exchange': {
      const token = await sources.exchangedTokens.tokenFor(upstream, auth, () => assertions.mint(auth, credentials.audience!));
      const header = credentials.header ?? 'Authorization';
      return { [header]: asHeaderValue(header, token) };
    }
  }
}

/**
 * What to do when an upstream refuses the credential (RFC 6750 §3.1):
 * - `oauth` 401: refresh once (single flight) and retry; refused again → the connection needs a
 *   re-connect and the caller gets `UpstreamConnectRequiredError`.
 * - `oauth` 403 `insufficient_scope`: a step-up — connect again with the scope the upstream names.
 * - `portal-jwt` / `static` 401: nothing the person can do; logged as a configuration error.
 */
export async function answerUpstreamChallenge(
  upstream: UpstreamConfig,
  auth: AuthContext,
  challenge: AuthChallenge,
  sources: CredentialSources,
): Promise<'retry' | undefined> {
  const parsed = parseBearerChallenge(challenge.wwwAuthenticate);
  const { connections, logger } = sources;
  // A refused exchanged token may have been revoked there: exchange once more, then give up.
  if (upstream.credentials.type === 'token-exchange' && challenge.status === 401 && !challenge.retried) {
    sources.exchangedTokens.forget(upstream, auth);
    return 'retry';
  }
  if (upstream.credentials.type !== 'oauth') {
    if (challenge.status === 401) {
      logger.error(
        {
          event: 'upstream_credential_rejected',
          upstream: upstream.id,
          credentials: upstream.credentials.type,
          status: challenge.status,
          challengeError: parsed?.error,
        },
        `configuration error: upstream "${upstream.id}" refused the portal's ${upstream.credentials.type} credential` +
          (upstream.credentials.type === 'portal-jwt'
            ? " (does it trust this portal's JWKS, issuer and its own URL as audience?)"
            : ' (is the secret current?)'),
      );
    }
    return undefined;
  }
  if (challenge.status === 403) {
    if (parsed?.error === 'insufficient_scope') throw await connections.stepUp(auth, upstream.id, parsed.scope);
    return undefined;
  }
  if (challenge.retried) {
    logger.warn(
      { event: 'upstream_token_rejected', person: auth.person.id, upstream: upstream.id, challengeError: parsed?.error },
      'upstream refused a fresh token; re-connect needed',
    );
    throw await connections.markReconnect(auth, upstream.id, 'upstream_refused_token');
  }
  const header = upstream.credentials.header ?? 'Authorization';
  const sent = Object.entries(challenge.sentHeaders).find(([name]) => name.toLowerCase() === header.toLowerCase())?.[1];
  await connections.renew(auth, upstream, sent?.replace(/^Bearer /i, ''));
  return 'retry';
}

function asHeaderValue(header: string, token: string): string {
  return header.toLowerCase() === 'authorization' ? `Bearer ${token}` : token;
}

/**
 * Where a person's browser goes to connect the account an `oauth` app needs: its connect page,
 * and back to `returnTo` (a portal path) afterwards.
 */
export function connectPageUrl(error: UpstreamConnectRequiredError, returnTo?: string): string {
  const url = new URL(error.connectUrl);
  if (returnTo) url.searchParams.set('return_to', returnTo);
  return url.href;
}

/**
 * An HTTP app's refusal for a caller that is not a browser when the person has not connected its
 * `oauth` account: a 403 `connect_required` whose message carries the connect URL. Other errors
 * pass through.
 */
export function connectRequiredAsHttp(error: unknown): unknown {
  if (!(error instanceof UpstreamConnectRequiredError)) return error;
  return new HttpError(403, 'connect_required', error.message);
}
