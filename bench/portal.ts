import { createPortal } from '../portal/app.js';
import { resolveConfig } from '../portal/config/load.js';
import { hashPassword } from '../portal/crypto/password.js';
import { listen, type RunningServer } from '../portal/http/server.js';
import { createLogger } from '../portal/logger.js';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryStore, openStore } from '../portal/store/index.js';

/** The portal's root secret in the benchmarks. */
export const SECRET = 'bench-secret-0123456789abcdef-0123456789';
/** The benchmarks' service client (see {@link serviceToken}). */
export const SERVICE = { id: 'bench', secret: 'bench-client-secret' };

/** A portal in this process, fronting `upstreams` (config documents), with a service client that may use all of them; `env` as the portal's environment (`OTEL_…`). */
export async function startPortal(
  upstreams: Array<Record<string, unknown> & { id: string }>,
  env: NodeJS.ProcessEnv = {},
): Promise<{ running: RunningServer; close(): Promise<void> }> {
  let handler: ReturnType<typeof createPortal>['handle'] | undefined;
  const running = await listen((req, res) => handler!(req, res), { host: '127.0.0.1', port: 0 });
  const ids = upstreams.map((u) => u.id);
  const config = resolveConfig(
    {
      upstreams,
      service_clients: [{ client_id: SERVICE.id, secret_hash: await hashPassword(SERVICE.secret), upstreams: ids }],
      rate_limits: { token_per_minute: 1000, token_per_client_per_minute: 1000 },
    },
    { GATEHOUSE_SECRET: SECRET, PUBLIC_URL: running.url, LOG_LEVEL: 'silent' },
    'bench',
  );
  // BENCH_REDIS_URL: the Store a deployment of several processes uses (keys under a prefix of their own, removed after).
  const redisUrl = process.env.BENCH_REDIS_URL;
  const keyPrefix = `gatehouse-bench-${randomUUID()}:`;
  const store = redisUrl ? await openStore({ redisUrl, keyPrefix }) : new MemoryStore();
  const portal = createPortal({
    config,
    store,
    env,
    logger: createLogger({ level: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'silent' }),
  });
  handler = portal.handle;
  return {
    running,
    close: async () => {
      await running.close(1_000);
      await portal.close();
      await store.close();
      if (redisUrl) await removeKeys(redisUrl, keyPrefix);
    },
  };
}

/** An access token for `resource`, by `client_credentials` as the bench's service client. */
export async function serviceToken(portalUrl: string, resource: string): Promise<string> {
  const res = await fetch(`${portalUrl}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${SERVICE.id}:${SERVICE.secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource }),
  });
  if (!res.ok) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Deletes every key under `prefix` (what a bench portal left in Redis). */
export async function removeKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) {
    if (keys.length) await redis.del(...keys);
  }
  await redis.quit();
}
