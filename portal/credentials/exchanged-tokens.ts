import { importPKCS8 } from 'jose';
import * as oauth from 'oauth4webapi';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../clock.js';
import { UpstreamCredentialError } from '../../adapters/upstream-errors.js';
import { readTokenExchangeSecret } from '../config/credentials-schema.js';
import { privateKeyAlgorithm } from '../config/idp-schema.js';
import type { UpstreamConfig } from '../config/schema.js';
import { createGuardedFetch } from '../net/guarded-fetch.js';
import { oauthTransport } from '../net/oauth-transport.js';
import { classifyOAuthFailure } from '../oauth-client/failure.js';
import type { AuthContext } from '../oauth/bearer.js';
import { TOKEN_EXCHANGE_GRANT } from '../oauth/grant-types.js';
import { TOKEN_TYPES } from '../oauth/grants/token-exchange.js';

/** An exchanged token is used until this long before it expires, so it never expires on the way. */
const EXPIRY_MARGIN_MS = 10_000;

/** Tokens kept per process; a bound on memory, not on correctness. */
const CACHE_ENTRIES = 10_000;

/**
 * `token-exchange` upstream credentials: the portal exchanges the person's portal assertion
 * (RFC 8693 §2.1, `subject_token_type` `urn:ietf:params:oauth:token-type:jwt`) at the upstream's
 * token endpoint for an upstream access token, as the client `client_id` (client secret, or
 * `private_key_jwt` with a private key), through oauth4webapi and the guarded fetcher. The token
 * is cached per person and agent until shortly before it expires; concurrent calls share one exchange.
 */
export interface ExchangedTokens {
  /**
   * The upstream token for the person and agent of `auth`; `subjectToken` mints the assertion to exchange.
   * @throws {UpstreamCredentialError} naming the upstream (detail only in the log).
   */
  tokenFor(upstream: UpstreamConfig, auth: AuthContext, subjectToken: () => Promise<string>): Promise<string>;
  /** Forgets the cached token (the upstream refused it), so the next call exchanges again. */
  forget(upstream: UpstreamConfig, auth: AuthContext): void;
}

/** `clock` decides when a cached token is no longer usable (default the real time). */
export function createExchangedTokens(options: { env: NodeJS.ProcessEnv; logger: Logger; clock?: Clock }): ExchangedTokens {
  const clock = options.clock ?? systemClock;
  const cache = new Map<string, { token: string; usableUntil: number }>();
  const inFlight = new Map<string, Promise<string>>();
  // The operator configured each token endpoint: it is reached wherever it resolves (trusted origin).
  const fetcher = createGuardedFetch({ allowPrivateAddresses: false, deadlineMs: 10_000, maxBodyBytes: 64 * 1024 });
  const keyOf = (upstream: UpstreamConfig, auth: AuthContext) => `${upstream.id}\n${auth.person.id}\n${auth.clientId}`;

  async function exchange(upstream: UpstreamConfig, subjectToken: string): Promise<{ token: string; expiresInSeconds?: number }> {
    const { credentials } = upstream;
    const endpoint = new URL(credentials.tokenEndpoint!);
    const as: oauth.AuthorizationServer = { issuer: endpoint.href, token_endpoint: endpoint.href };
    const client: oauth.Client = { client_id: credentials.clientId! };
    const secret = readTokenExchangeSecret(credentials, options.env);
    if ('problem' in secret) throw new Error(secret.problem);
    const clientAuth =
      secret.kind === 'private_key'
        ? oauth.PrivateKeyJwt({ key: await importPKCS8(secret.value, privateKeyAlgorithm(secret.value)!) })
        : oauth.ClientSecretBasic(secret.value);
    const http = oauthTransport(fetcher, { trustedOrigins: [endpoint.origin] });
    const response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      clientAuth,
      TOKEN_EXCHANGE_GRANT,
      {
        subject_token: subjectToken,
        subject_token_type: TOKEN_TYPES.jwt,
        requested_token_type: TOKEN_TYPES.accessToken,
        audience: credentials.audience!,
      },
      http,
    );
    const tokens = await oauth.processGenericTokenEndpointResponse(as, client, response);
    return { token: tokens.access_token, expiresInSeconds: tokens.expires_in };
  }

  return {
    async tokenFor(upstream, auth, subjectToken) {
      const key = keyOf(upstream, auth);
      const hit = cache.get(key);
      if (hit && hit.usableUntil > clock.now()) return hit.token;
      let pending = inFlight.get(key);
      if (!pending) {
        pending = (async () => {
          try {
            const { token, expiresInSeconds } = await exchange(upstream, await subjectToken());
            cache.delete(key);
            if (expiresInSeconds !== undefined)
              cache.set(key, { token, usableUntil: clock.now() + expiresInSeconds * 1000 - EXPIRY_MARGIN_MS });
            while (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
            return token;
          } catch (error) {
            const detail = `token endpoint: ${classifyOAuthFailure(error).internal}`;
            options.logger.warn(
              { event: 'upstream_token_exchange_failed', upstream: upstream.id, person: auth.person.id, reason: detail },
              `token exchange for upstream "${upstream.id}" failed`,
            );
            throw new UpstreamCredentialError(upstream.id, { internal: detail });
          } finally {
            inFlight.delete(key);
          }
        })();
        inFlight.set(key, pending);
      }
      return pending;
    },
    forget(upstream, auth) {
      cache.delete(keyOf(upstream, auth));
    },
  };
}
