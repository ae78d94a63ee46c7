import * as oauth from 'oauth4webapi';
import { CliError } from './args.js';
import { credentialsPath, readCredentials, writeCredentials, type Credentials, type StoredTokens } from './credentials-file.js';
import type { CliIo } from './io.js';
import { browserSignIn } from './loopback-sign-in.js';
import { deviceSignIn, discoverAuthorizationServer, refreshTokens, registerCli, type Tokens } from './oauth-client.js';

/** Whom to ask for a token, for what: an authorization server (RFC 8414 issuer), a resource (RFC 8707), a scope. */
export interface TokenTarget {
  issuer: string;
  resource: string;
  scope?: string;
}

/** How a sign-in asks the person: the device flow (default) or the loopback browser flow. */
export interface SignInOptions {
  io: CliIo;
  browser?: boolean;
  /** Sign in even when a usable token is cached (`gatehouse login`). */
  fresh?: boolean;
  /** An access token the resource refused (`401`): not to be used again, even if it has not expired. */
  stale?: string;
  /** `false`: never ask the person; without a cached or refreshable token, fail with {@link SignInRequiredError}. */
  interactive?: boolean;
}

/** No usable token is cached for the target, and the command may not ask the person to sign in. */
export class SignInRequiredError extends CliError {
  constructor(readonly target: TokenTarget) {
    super(`not signed in for ${target.resource}`, 3);
  }
}

/** A token this close to its expiry is refreshed first: it could expire on its way. */
const EXPIRY_MARGIN_SECONDS = 30;

/**
 * An access token for `target`: the cached one while it is valid, else a refreshed one, else one
 * from a new sign-in (which talks to the person on stderr). Whatever is obtained is saved in the
 * credentials file. The CLI's client id at the issuer is `GATEHOUSE_CLIENT_ID` when set, else the
 * one it registered there before, else it registers now (RFC 7591).
 */
export async function accessTokenFor(target: TokenTarget, options: SignInOptions): Promise<string> {
  const path = credentialsPath(options.io.env);
  const stored = (await readCredentials(path)).issuers[target.issuer];
  const cached = stored?.tokens[target.resource];
  if (cached && !options.fresh && cached.access_token !== options.stale && usable(cached)) return cached.access_token;

  const as = await discoverAuthorizationServer(target.issuer);
  if (cached?.refresh_token && !options.fresh && stored) {
    try {
      const refreshed = await refreshTokens(as, stored.client_id, cached.refresh_token, target);
      await saveTokens(path, target, stored.client_id, refreshed);
      return refreshed.access_token;
    } catch (error) {
      // A refresh token that was revoked or expired means signing in again; anything else is a failure.
      if (!(error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant'))
        throw new CliError(`refreshing the token for ${target.resource} failed: ${(error as Error).message}`, 1);
    }
  }

  if (options.interactive === false) throw new SignInRequiredError(target);
  const pinned = options.io.env.GATEHOUSE_CLIENT_ID;
  let clientId = pinned ?? stored?.client_id ?? (await registerCli(as));
  const tell = (message: string) => options.io.stderr.write(message);
  const signIn = (id: string) =>
    options.browser ? browserSignIn(as, id, target, tell, options.io.env) : deviceSignIn(as, id, target, tell);
  let tokens: Tokens;
  try {
    tokens = await signIn(clientId);
  } catch (error) {
    // A registration the server forgot (registered clients expire unused): register again, once.
    if (pinned || !(error instanceof oauth.ResponseBodyError && error.error === 'invalid_client')) throw error;
    clientId = await registerCli(as);
    tokens = await signIn(clientId);
  }
  await saveTokens(path, target, clientId, tokens);
  return tokens.access_token;
}

/** Whether a cached token may still be sent: no known expiry, or not within the margin of it. */
function usable(tokens: StoredTokens): boolean {
  return tokens.expires_at === undefined || tokens.expires_at > Math.floor(Date.now() / 1000) + EXPIRY_MARGIN_SECONDS;
}

/** Saves tokens for `target`, over a fresh read of the file (another `gatehouse` may have written it meanwhile). */
async function saveTokens(path: string, target: TokenTarget, clientId: string, tokens: Tokens): Promise<void> {
  const credentials = await readCredentials(path);
  const previous = credentials.issuers[target.issuer];
  credentials.issuers[target.issuer] = {
    client_id: clientId,
    // Tokens from another client id (a registration that was replaced) are no longer refreshable.
    tokens: { ...(previous?.client_id === clientId ? previous.tokens : {}), [target.resource]: tokens },
  };
  await writeCredentials(path, credentials);
}

/** The cached target whose resource covers `url` (same origin, the resource's path or below it), if any. */
export function cachedTargetFor(credentials: Credentials, url: URL): TokenTarget | undefined {
  for (const [issuer, entry] of Object.entries(credentials.issuers)) {
    for (const [resource, tokens] of Object.entries(entry.tokens)) {
      if (covers(resource, url)) return { issuer, resource, scope: tokens.scope };
    }
  }
  return undefined;
}

/** RFC 9728 §3: a resource identifier covers the URLs at and below it on its origin. */
export function covers(resource: string, url: URL): boolean {
  let base: URL;
  try {
    base = new URL(resource);
  } catch {
    return false;
  }
  if (base.origin !== url.origin) return false;
  const path = base.pathname.replace(/\/+$/, '');
  return path === '' || url.pathname === path || url.pathname.startsWith(`${path}/`);
}
