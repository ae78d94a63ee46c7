import { CliError, UsageError } from './args.js';
import { credentialsPath, readCredentials } from './credentials-file.js';
import type { CliIo } from './io.js';
import { accessTokenFor, cachedTargetFor, SignInRequiredError, type TokenTarget } from './sign-in.js';

/**
 * Talks to a portal's admin API: the portal is `GATEHOUSE_URL`, else the one `gatehouse login`
 * signed in to last; the token is `GATEHOUSE_TOKEN` (an access token for `{issuer}/admin` with
 * scope `admin`) when set, else the person's own, cached by `gatehouse login --admin` and refreshed
 * as it expires. An admin command never starts a sign-in itself: in a script it would wait for a
 * person who is not there.
 */
export interface AdminClient {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

export function createAdminClient(io: CliIo): AdminClient {
  const given = io.env.GATEHOUSE_TOKEN;
  let base: string | undefined;
  let target: TokenTarget | undefined;
  let token = given;

  async function portal(): Promise<string> {
    base ??= (io.env.GATEHOUSE_URL ?? (await readCredentials(credentialsPath(io.env))).default_issuer ?? '').replace(/\/+$/, '');
    if (!base)
      throw new UsageError('set GATEHOUSE_URL to the portal (e.g. https://gate.example.com), or sign in with "gatehouse login URL"');
    if (!/^https?:\/\//.test(base)) throw new UsageError('GATEHOUSE_URL must be an http(s) URL');
    return base;
  }

  /** The person's token for the admin API, as `gatehouse login --admin` cached it (refreshed when expired, or when `stale` was refused). */
  async function personToken(stale?: string): Promise<string> {
    const notSignedIn = () =>
      new CliError(
        `not signed in to the admin API of ${base}: run "gatehouse login ${base} --admin", or set GATEHOUSE_TOKEN to an access token for it (resource {issuer}/admin, scope admin)`,
        3,
      );
    target ??= cachedTargetFor(await readCredentials(credentialsPath(io.env)), new URL(`${await portal()}/admin/api/v1`));
    if (!target) throw notSignedIn();
    try {
      return await accessTokenFor(target, { io, stale, interactive: false });
    } catch (error) {
      throw error instanceof SignInRequiredError ? notSignedIn() : error;
    }
  }

  async function send(method: string, path: string, body: unknown, bearer: string): Promise<Response> {
    try {
      return await fetch(`${await portal()}/admin/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new CliError(
        `cannot reach ${base}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
        1,
      );
    }
  }

  return {
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      token ??= await personToken();
      let res = await send(method, path, body, token);
      if (res.status === 401 && given === undefined) {
        // A cached token the portal no longer accepts (revoked, or its key rotated): refresh or sign in, once.
        await res.body?.cancel();
        token = await personToken(token);
        res = await send(method, path, body, token);
      }
      if (res.status === 204) return undefined as T;
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        throw new CliError(`${method} ${path}: the portal answered ${res.status} with something that is not JSON`, 1);
      }
      if (res.ok) return parsed as T;
      const error = parsed as { error?: string; error_description?: string } | undefined;
      const what = `${error?.error ?? `HTTP ${res.status}`}${error?.error_description ? `: ${error.error_description}` : ''}`;
      throw new CliError(what, res.status === 401 || res.status === 403 ? 3 : res.status === 404 ? 4 : 1);
    },
  };
}
