import { CliError, UsageError } from './args.js';

/** Talks to a portal's admin API with `GATEHOUSE_URL` and `GATEHOUSE_TOKEN` (an access token for `{issuer}/admin` with scope `admin`). */
export interface AdminClient {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

export function createAdminClient(env: NodeJS.ProcessEnv): AdminClient {
  const base = (env.GATEHOUSE_URL ?? '').replace(/\/+$/, '');
  const token = env.GATEHOUSE_TOKEN ?? '';
  if (!base) throw new UsageError('set GATEHOUSE_URL to the portal, e.g. https://gate.example.com');
  if (!/^https?:\/\//.test(base)) throw new UsageError('GATEHOUSE_URL must be an http(s) URL');
  if (!token) throw new UsageError('set GATEHOUSE_TOKEN to an access token for the admin API (resource {issuer}/admin, scope admin)');
  return {
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${base}/admin/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (error) {
        throw new CliError(`cannot reach ${base}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`, 1);
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
