import * as oauth from 'oauth4webapi';
import { systemClock, type Clock } from '../clock.js';
import type { UpstreamConfig } from '../config/schema.js';
import { sha256 } from '../crypto/hash.js';
import type { Sealer } from '../crypto/seal.js';
import { impliedApplicationType } from '../oauth/redirect-uris.js';
import { storeKey, type Store } from '../store/store.js';
import { UpstreamOAuthError, toOAuthError } from './upstream-oauth-errors.js';
import type { UpstreamTransport } from './upstream-transport.js';

/** The portal's client at one authorization server, ready for oauth4webapi, and where it is kept. */
export interface UpstreamClient {
  client: oauth.Client;
  auth: oauth.ClientAuth;
  /** `configured`, or the store key of the registration (recorded with the tokens obtained with it). */
  key: string;
}

/** The portal's clients at upstreams' authorization servers: configured, or registered dynamically (RFC 7591). */
export interface UpstreamRegistration {
  /**
   * The portal's client at `as` for `upstream`: configured, else registered once per issuer and
   * redirect URI (RFC 7591 §3) and kept sealed in the store under a key derived from both, with
   * the issuer it belongs to inside. A registration is used with its own issuer only; an AS the
   * upstream moves to gets a registration of its own (MCP 2026-07-28 "Authorization Server
   * Binding"). `clientKey` names the client earlier tokens were obtained with (to refresh or
   * revoke them): it is read, never registered anew.
   */
  client(upstream: UpstreamConfig, as: oauth.AuthorizationServer, redirectUri: string, clientKey?: string): Promise<UpstreamClient>;
}

export interface UpstreamRegistrationOptions {
  store: Store;
  /** Seals registered client credentials at rest. */
  sealer: Sealer;
  /** The portal's issuer: its `client_uri` at the upstream's AS. */
  portalIssuer: string;
  /** oauth4webapi's transport for a request made for `upstream` (the guarded fetcher). */
  transport: UpstreamTransport;
  /** When a registered client's secret lapses (default the real time). */
  clock?: Clock;
}

/** The portal's clients at upstreams' authorization servers, registered ones kept sealed in the store. */
export function createUpstreamRegistration(options: UpstreamRegistrationOptions): UpstreamRegistration {
  const { store, sealer } = options;
  const clock = options.clock ?? systemClock;

  async function client(
    upstream: UpstreamConfig,
    as: oauth.AuthorizationServer,
    redirectUri: string,
    clientKey?: string,
  ): Promise<UpstreamClient> {
    const { clientId, clientSecret } = upstream.credentials;
    if (clientId) {
      if (!clientKey && !upstream.credentials.authorizationServer) await checkConfiguredClientIssuer(upstream, clientId, as.issuer);
      const methods = as.token_endpoint_auth_methods_supported;
      const auth = !clientSecret
        ? oauth.None()
        : !methods || methods.includes('client_secret_basic')
          ? oauth.ClientSecretBasic(clientSecret)
          : oauth.ClientSecretPost(clientSecret);
      return { client: { client_id: clientId }, auth, key: 'configured' };
    }
    const key = clientKey ?? storeKey('upstream-client', sha256(`${as.issuer}\n${redirectUri}`));
    const known = await readClient(key, as.issuer);
    if (known) return known;
    if (clientKey) throw new UpstreamOAuthError('as_refused', 'the registered client is gone', 'invalid_client');
    if (!as.registration_endpoint)
      throw new UpstreamOAuthError('as_unsupported', `${as.issuer} offers no dynamic registration: set credentials.client_id`);
    const methods = as.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    const method = ['client_secret_basic', 'client_secret_post', 'none'].find((m) => methods.includes(m)) ?? 'none';
    let registered: oauth.OmitSymbolProperties<oauth.Client>;
    try {
      const response = await oauth.dynamicClientRegistrationRequest(
        as,
        {
          client_name: 'Gatehouse',
          client_uri: options.portalIssuer,
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: method,
          // MCP 2026-07-28 asks every client to say what it is (SEP-837): the portal is a web app, or "native" on a loopback address.
          application_type: impliedApplicationType([redirectUri]),
        },
        options.transport(upstream),
      );
      registered = await oauth.processDynamicClientRegistrationResponse(response);
    } catch (error) {
      throw toOAuthError(error);
    }
    const stored: StoredRegistration = { issuer: as.issuer, client: registered };
    // Two processes may register at once: the first stored wins, the other client is simply unused.
    if (!(await store.setIfAbsent(key, sealer.seal(JSON.stringify(stored), key))))
      return (await readClient(key, as.issuer)) ?? failed('registered client vanished');
    return toClient(registered, key);
  }

  /** The registration stored under `key`, if it is one made at `issuer` and its secret has not expired. */
  async function readClient(key: string, issuer: string): Promise<UpstreamClient | undefined> {
    const raw = await store.get(key);
    if (raw === null) return undefined;
    const value = JSON.parse(sealer.open(raw, key)) as StoredRegistration | oauth.Client;
    // A registration stored before the issuer was kept inside is the bare response; its key was derived from the issuer.
    const stored: StoredRegistration =
      typeof value.issuer === 'string' && typeof value.client === 'object'
        ? (value as StoredRegistration)
        : { issuer, client: value as oauth.Client };
    if (stored.issuer !== issuer)
      throw new UpstreamOAuthError('as_refused', `the registered client belongs to ${stored.issuer}, not ${issuer}`, 'invalid_client');
    const registered = stored.client;
    const expiresAt = registered.client_secret_expires_at as number | undefined;
    if (expiresAt && expiresAt * 1000 < clock.now() + 60_000) {
      await store.delete(key);
      return undefined;
    }
    return toClient(registered, key);
  }

  /**
   * A configured client id belongs to one authorization server. When the config does not name it
   * (`authorization_server`), the first issuer the id is used with is remembered, and a connect to
   * any other stops with an error for the operator instead of sending the id there (MCP 2026-07-28
   * "Authorization Server Binding": surface the mismatch, never use the credentials elsewhere).
   */
  async function checkConfiguredClientIssuer(upstream: UpstreamConfig, clientId: string, issuer: string): Promise<void> {
    const key = storeKey('upstream-client-issuer', sha256(`${upstream.id}\n${clientId}`));
    if (await store.setIfAbsent(key, issuer)) return;
    const first = await store.get(key);
    if (first !== null && first !== issuer) {
      throw new UpstreamOAuthError(
        'as_unsupported',
        `upstream ${upstream.id} now names authorization server ${issuer}, but its configured client_id was used with ${first}: configure a client_id (and authorization_server) for the new server`,
      );
    }
  }

  function toClient(registered: oauth.Client, key: string): UpstreamClient {
    const secret = typeof registered.client_secret === 'string' ? registered.client_secret : undefined;
    const method = registered.token_endpoint_auth_method ?? 'client_secret_basic';
    const auth =
      !secret || method === 'none'
        ? oauth.None()
        : method === 'client_secret_post'
          ? oauth.ClientSecretPost(secret)
          : oauth.ClientSecretBasic(secret);
    return { client: { client_id: registered.client_id }, auth, key };
  }

  return { client };
}

/** A dynamically registered client as stored (sealed): the registration response and the issuer it was made at. */
interface StoredRegistration {
  issuer: string;
  client: oauth.Client;
}

function failed(message: string): never {
  throw new UpstreamOAuthError('as_invalid_response', message);
}
