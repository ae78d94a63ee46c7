import { createPortal } from '../portal/app.js';
import { resolveConfig } from '../portal/config/load.js';
import { hashPassword } from '../portal/crypto/password.js';
import { listen, type RunningServer } from '../portal/http/server.js';
import { createLogger } from '../portal/logger.js';
import { MemoryStore } from '../portal/store/index.js';

const SECRET = 'bench-secret-0123456789abcdef-0123456789';
const SERVICE = { id: 'bench', secret: 'bench-client-secret' };

/** A portal in this process, fronting `upstreams` (config documents), with a service client that may use all of them. */
export async function startPortal(upstreams: Array<Record<string, unknown> & { id: string }>): Promise<{ running: RunningServer; close(): Promise<void> }> {
  let handler: ReturnType<typeof createPortal>['handle'] | undefined;
  const running = await listen((req, res) => handler!(req, res), { host: '127.0.0.1', port: 0 });
  const ids = upstreams.map((u) => u.id);
  const config = resolveConfig(
    {
      upstreams,
      service_clients: [{ client_id: SERVICE.id, secret_hash: await hashPassword(SERVICE.secret), upstreams: ids }],
      rate_limits: { token_per_minute: 1000 },
    },
    { GATEHOUSE_SECRET: SECRET, PUBLIC_URL: running.url, LOG_LEVEL: 'silent' },
    'bench',
  );
  const store = new MemoryStore();
  const portal = createPortal({ config, store, logger: createLogger({ level: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'silent' }) });
  handler = portal.handle;
  return {
    running,
    close: async () => {
      await running.close(1_000);
      await portal.close();
      await store.close();
    },
  };
}

/** An access token for `resource`, by `client_credentials` as the bench's service client. */
export async function serviceToken(portalUrl: string, resource: string): Promise<string> {
  const res = await fetch(`${portalUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${SERVICE.id}:${SERVICE.secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource }),
  });
  if (!res.ok) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}
