import { systemClock, type Clock } from '../clock.js';
import { randomToken } from '../crypto/hash.js';
import { getJson, setJson, storeKey, takeJson, type Store } from '../store/store.js';

export type Prompt = 'login' | 'consent' | 'none';

/** What every request waiting for the person to sign in and consent has. */
interface RequestCommon {
  id: string;
  clientId: string;
  /** Where the person's browser goes once they decided: the client's redirect URI, or the portal's `/device` page. */
  redirectUri: string;
  state?: string;
  scope: string[];
  resource: string;
  /** OpenID Connect Core §3.1.2.1 `prompt`: sign in again (`login`), ask again (`consent`), or show nothing (`none`). */
  prompt?: Prompt[];
  /** RFC 9449 §10 `dpop_jkt`: the code is exchanged only with a DPoP proof of this key. */
  dpopJkt?: string;
  createdAt: number;
  /** The person it belongs to, bound when they first see the consent page. */
  personId?: string;
}

/** A validated `/authorize` request: answered with an authorization code (PKCE, RFC 7636). */
export interface CodeAuthorizationRequest extends RequestCommon {
  codeChallenge: string;
  device?: never;
}

/** A user code entered at `/device`: answered by deciding that device authorization (RFC 8628 §3.3). */
export interface DeviceAuthorizationRequest extends RequestCommon {
  /** The device authorization's id in the Store. */
  device: { id: string };
  codeChallenge?: never;
}

export type AuthorizationRequest = CodeAuthorizationRequest | DeviceAuthorizationRequest;

type NewAuthorizationRequest = Omit<CodeAuthorizationRequest, 'id' | 'createdAt'> | Omit<DeviceAuthorizationRequest, 'id' | 'createdAt'>;

export interface AuthorizationRequests {
  create(request: NewAuthorizationRequest): Promise<AuthorizationRequest>;
  find(id: string): Promise<AuthorizationRequest | undefined>;
  /** Binds the request to a person, once: resolves `false` when it belongs to someone else. */
  bind(request: AuthorizationRequest, personId: string): Promise<boolean>;
  /** Takes the request out (take-once): a second consent for it finds nothing. */
  take(id: string): Promise<AuthorizationRequest | undefined>;
}

export function createAuthorizationRequests(options: { store: Store; ttlMs: number; clock?: Clock }): AuthorizationRequests {
  const clock = options.clock ?? systemClock;
  const { store, ttlMs } = options;
  const key = (id: string) => storeKey('authreq', id);
  return {
    async create(fields) {
      const request = { ...fields, id: randomToken(18), createdAt: clock.now() } as AuthorizationRequest;
      await setJson(store, key(request.id), request, { ttlMs });
      return request;
    },
    async find(id) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return undefined;
      return (await getJson<AuthorizationRequest>(store, key(id))) ?? undefined;
    },
    async bind(request, personId) {
      if (request.personId) return request.personId === personId;
      const current = await store.get(key(request.id));
      if (current === null) return false;
      const bound = JSON.stringify({ ...(JSON.parse(current) as AuthorizationRequest), personId });
      const remaining = (await store.ttl(key(request.id))) ?? ttlMs;
      if (await store.compareAndSet(key(request.id), current, bound, { ttlMs: remaining })) {
        request.personId = personId;
        return true;
      }
      return (await this.find(request.id))?.personId === personId;
    },
    async take(id) {
      return (await takeJson<AuthorizationRequest>(store, key(id))) ?? undefined;
    },
  };
}
