import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../portal/clock.js';
import { MemoryStore } from '../../portal/store/index.js';
import { FormBrowser, hiddenFields } from './browser-form-client.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from './portal.js';

/** The loopback redirect URI the bad-input tests register (nothing listens there: the tests read `Location`). */
export const REDIRECT_URI = 'http://127.0.0.1:9999/callback';

/** Limits no test file meets: the portal counts per IP, and every test request comes from 127.0.0.1. */
export const UNLIMITED = {
  register_per_minute: 1_000_000,
  token_per_minute: 1_000_000,
  token_per_client_per_minute: 1_000_000,
  login_per_minute: 1_000_000,
};

/** An OAuth error response body (RFC 6749 §5.2). */
export interface OAuthErrorBody {
  error: string;
  error_description?: string;
}

/** A successful token response (RFC 6749 §5.1). */
export interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/** A registration response (RFC 7591 §3.2.1). */
export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  registration_access_token: string;
  redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: 'none' | 'client_secret_basic' | 'client_secret_post';
}

/** A MemoryStore that records the keys written, so tests can show a rejected request wrote nothing. */
export class RecordingStore extends MemoryStore {
  readonly written: string[] = [];

  override async set(key: string, value: string, options?: { ttlMs?: number }): Promise<void> {
    this.written.push(key);
    await super.set(key, value, options);
  }

  /** How many writes touched keys of this kind (`client`, `code`, `authreq`, `grant`, `refresh`, `session`). */
  writes(kind: string): number {
    return this.written.filter((key) => key.startsWith(`${kind}:`)).length;
  }
}

/**
 * A portal with ALICE and BOB, no effective rate limits, and whatever `document` adds
 * (its `rate_limits` and `tokens` win). The caller closes it (and a passed `store`).
 */
export async function startOAuthPortal(document: Record<string, unknown> = {}, store?: MemoryStore, clock?: Clock): Promise<TestPortal> {
  const rateLimits = { ...UNLIMITED, ...(document.rate_limits as Record<string, unknown> | undefined) };
  return startTestPortal({ document: { login: { accounts: await testAccounts() }, ...document, rate_limits: rateLimits }, store, clock });
}

/** Reads a JSON body as `T` (the caller names the shape it asserts on). */
export async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** `POST /register` with a JSON body; resolves the raw response. */
export function registerRequest(portalUrl: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${portalUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Registers a client (public, authorization_code + refresh_token, REDIRECT_URI unless `metadata` says otherwise). */
export async function registerClient(portalUrl: string, metadata: Record<string, unknown> = {}): Promise<RegisteredClient> {
  const res = await registerRequest(portalUrl, {
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    client_name: 'Bad Input Test Agent',
    ...metadata,
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return json<RegisteredClient>(res);
}

/** A fresh PKCE verifier and its S256 challenge (RFC 7636 §4.1-4.2). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * An `/authorize` URL for `clientId`: REDIRECT_URI, `response_type=code`, S256 PKCE over
 * `challenge`, `state=xyz-state` and `scope=mcp`, each replaced (or, with `undefined`, removed) by `params`.
 */
export function authorizeUrl(portalUrl: string, clientId: string, challenge: string, params: Record<string, string | undefined> = {}): URL {
  const url = new URL(`${portalUrl}/authorize`);
  const all: Record<string, string | undefined> = {
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'xyz-state',
    scope: 'mcp',
    ...params,
  };
  for (const [name, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(name, value);
  return url;
}

/** What a completed authorization leaves the client with. */
export interface Authorized {
  code: string;
  verifier: string;
  redirectUri: string;
  /** The person's browser (signed in), for further authorizations. */
  browser: FormBrowser;
  callback: URL;
}

/**
 * Runs `/authorize` for `clientId` as `person` (ALICE by default): signs in, allows consent,
 * and resolves the code. `params` adjust the authorize URL as in {@link authorizeUrl}.
 */
export async function authorizeCode(
  portalUrl: string,
  clientId: string,
  options: { person?: { username: string; password: string }; params?: Record<string, string | undefined>; browser?: FormBrowser } = {},
): Promise<Authorized> {
  const { verifier, challenge } = pkce();
  const url = authorizeUrl(portalUrl, clientId, challenge, options.params);
  const browser = options.browser ?? new FormBrowser(portalUrl);
  const callback = await browser.authorize(url.href, options.person ?? ALICE);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`authorization failed: ${callback.href}`);
  return { code, verifier, redirectUri: url.searchParams.get('redirect_uri')!, browser, callback };
}

/** `Authorization: Basic` for client_secret_basic (RFC 6749 §2.3.1: both parts form-urlencoded). */
export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** A client's own authentication at the token endpoint, as it registered it. */
export function clientAuth(client: Pick<RegisteredClient, 'client_id' | 'client_secret' | 'token_endpoint_auth_method'>): {
  fields: Record<string, string>;
  headers: Record<string, string>;
} {
  if (client.token_endpoint_auth_method === 'client_secret_basic')
    return { fields: {}, headers: { authorization: basicAuth(client.client_id, client.client_secret!) } };
  if (client.token_endpoint_auth_method === 'client_secret_post')
    return { fields: { client_id: client.client_id, client_secret: client.client_secret! }, headers: {} };
  return { fields: { client_id: client.client_id }, headers: {} };
}

/** `POST {path}` (default `/token`) with a form body; `fields` may repeat a name by giving an array. */
export function formPost(
  portalUrl: string,
  fields: Record<string, string | string[]>,
  headers: Record<string, string> = {},
  path = '/token',
): Promise<Response> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) for (const v of ([] as string[]).concat(value)) body.append(name, v);
  return fetch(`${portalUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: body.toString(),
  });
}

/** Exchanges a code at `/token` with the client's registered authentication; `fields` override. */
export function exchangeCode(
  portalUrl: string,
  client: RegisteredClient,
  authorized: Pick<Authorized, 'code' | 'verifier' | 'redirectUri'>,
  fields: Record<string, string | undefined> = {},
): Promise<Response> {
  const auth = clientAuth(client);
  const all: Record<string, string | undefined> = {
    grant_type: 'authorization_code',
    code: authorized.code,
    code_verifier: authorized.verifier,
    redirect_uri: authorized.redirectUri,
    ...auth.fields,
    ...fields,
  };
  return formPost(portalUrl, definedOnly(all), auth.headers);
}

/** Refreshes at `/token` with the client's registered authentication. */
export function refresh(
  portalUrl: string,
  client: RegisteredClient,
  refreshToken: string,
  fields: Record<string, string> = {},
): Promise<Response> {
  const auth = clientAuth(client);
  return formPost(portalUrl, { grant_type: 'refresh_token', refresh_token: refreshToken, ...auth.fields, ...fields }, auth.headers);
}

/** Registers nothing: authorizes `client` as ALICE (or `person`) and exchanges the code; resolves the tokens. */
export async function tokensFor(
  portalUrl: string,
  client: RegisteredClient,
  options: { person?: { username: string; password: string }; params?: Record<string, string | undefined> } = {},
): Promise<TokenBody> {
  const authorized = await authorizeCode(portalUrl, client.client_id, options);
  const res = await exchangeCode(portalUrl, client, authorized);
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${await res.text()}`);
  return json<TokenBody>(res);
}

/** An MCP `initialize` POST to `url`, with `token` as the bearer when given. */
export function mcpInitialize(url: string, token?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
}

/**
 * Parses a `WWW-Authenticate` header strictly (RFC 9110 §11.6.1, RFC 6750 §3): one or more
 * challenges `Scheme name="value", …`, each value of RFC 6750's allowed characters (no `"` or `\`),
 * keyed by scheme. Throws on anything else, so a malformed header fails the test.
 */
export function challenges(header: string | null): Record<string, Record<string, string>> {
  if (header === null) throw new Error('no WWW-Authenticate header');
  const all: Record<string, Record<string, string>> = {};
  const part = /^(?:([A-Za-z][A-Za-z0-9_-]*) (?=[A-Za-z_]+="))?([A-Za-z_]+)="([\x20\x21\x23-\x5B\x5D-\x7E]*)"(?:, (?=.)|$)/;
  let current: Record<string, string> | undefined;
  let rest = header;
  while (rest) {
    const found = part.exec(rest);
    if (!found) throw new Error(`malformed challenge at ${JSON.stringify(rest)} in ${header}`);
    const [, scheme, name, value] = found;
    if (scheme) {
      if (scheme in all) throw new Error(`scheme ${scheme} repeated in ${header}`);
      current = all[scheme] = {};
    }
    if (!current) throw new Error(`no scheme before ${JSON.stringify(rest)} in ${header}`);
    if (name! in current) throw new Error(`parameter ${name} repeated in ${header}`);
    current[name!] = value!;
    rest = rest.slice(found[0].length);
  }
  return all;
}

/** The `Bearer` challenge of a `WWW-Authenticate` header, parsed strictly by {@link challenges}; it must come first. */
export function bearerChallenge(header: string | null): Record<string, string> {
  if (header === null) throw new Error('no WWW-Authenticate header');
  if (!/^Bearer /.test(header)) throw new Error(`not a Bearer challenge: ${header}`);
  return challenges(header).Bearer!;
}

/** The cookies of a FormBrowser's jar as a `Cookie` header. */
export function cookieHeader(browser: FormBrowser): string {
  return [...browser.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
}

/**
 * Starts an authorization in `browser` and signs in as `person`, stopping at the consent page:
 * resolves its hidden fields (`request`, `csrf`) and the verifier, without answering it.
 */
export async function pendingConsent(
  portalUrl: string,
  clientId: string,
  browser: FormBrowser,
  person: { username: string; password: string },
  params: Record<string, string | undefined> = {},
): Promise<{ request: string; csrf: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  let res = await browser.follow(authorizeUrl(portalUrl, clientId, challenge, params).href);
  let page = await res.text();
  if (page.includes('action="/login"')) {
    res = await browser.follow(`${portalUrl}/login`, {
      method: 'POST',
      fields: { ...hiddenFields(page), username: person.username, password: person.password },
    });
    page = await res.text();
  }
  if (!page.includes('action="/consent"')) throw new Error(`expected the consent page, got ${res.status}: ${page.slice(0, 300)}`);
  const fields = hiddenFields(page);
  return { request: fields.request!, csrf: fields.csrf!, verifier };
}

function definedOnly(fields: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
