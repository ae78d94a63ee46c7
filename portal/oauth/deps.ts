import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Config } from '../config/load.js';
import type { RateLimit } from '../http/rate-limit.js';
import type { Person } from '../login/person.js';
import type { SessionManager } from '../login/sessions.js';
import type { Store } from '../store/store.js';
import type { UpstreamConnections } from '../credentials/connections.js';
import type { AccessTokens } from './access-tokens.js';
import type { AssertionLedger } from './assertion-ledger.js';
import type { ClientAssertions } from './client-assertion.js';
import type { AuthorizationCodes } from './authorization-codes.js';
import type { AuthorizationRequests } from './authorization-requests.js';
import type { ClientRegistry } from './clients.js';
import type { DeviceAuthorizations } from './device-authorizations.js';
import type { DpopProofs } from './dpop-proof.js';
import type { Consents } from './consents.js';
import type { GrantStore } from './grant-store.js';
import type { RefreshTokens } from './refresh-tokens.js';
import type { RemoteKeys } from './remote-keys.js';
import type { ResourceCatalog } from './resources.js';
import type { SigningKeys } from './signing-keys.js';

/** Everything the authorization server's endpoints share, built once by `createAuthorizationServer`. */
export interface OAuthDeps {
  config: Config;
  issuer: string;
  store: Store;
  logger: Logger;
  /** Where the endpoints read the time. */
  clock: Clock;
  keys: SigningKeys;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
  /** DPoP proofs (RFC 9449) at the token endpoint and the protected resources. */
  dpop: DpopProofs;
  codes: AuthorizationCodes;
  deviceAuthorizations: DeviceAuthorizations;
  requests: AuthorizationRequests;
  consents: Consents;
  grants: GrantStore;
  clients: ClientRegistry;
  /** Keys of the IdPs, trusted issuers and clients whose JWTs are grants or client authentication here. */
  remoteKeys: RemoteKeys;
  /** One-time JWTs (ID-JAGs, client assertions) already used, across processes. */
  assertions: AssertionLedger;
  /** `private_key_jwt` client authentication. */
  clientAssertions: ClientAssertions;
  resources: ResourceCatalog;
  sessions: SessionManager;
  /**
   * `token`: per IP, failed token requests and every revocation and introspection request;
   * `tokenPerClient`: token requests per authenticated client; `userCode`: user codes typed at `/device`, per person.
   */
  limits: { register: RateLimit; token: RateLimit; tokenPerClient: RateLimit; userCode: RateLimit };
  /** The person as they are now (accounts change): `undefined` when they no longer exist. */
  people: { current(person: Person): Promise<Person | undefined> };
  parsers: { json: RequestHandler; form: RequestHandler };
  /** People's own accounts at `oauth` upstreams: the consent page links to connecting the missing ones. */
  connections: Pick<UpstreamConnections, 'listConnections'>;
}
