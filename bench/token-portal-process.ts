/**
 * Child process of the token benchmark: a portal on the store argv[2] names (`memory`, or `redis`
 * at argv[3]) with argv[4] registered confidential clients, each holding a refresh token of a
 * grant of one person; prints its {@link TokenServer} as JSON, answers CPU queries, stops on SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import { createPortal } from '../portal/app.js';
import { resolveConfig } from '../portal/config/load.js';
import { randomToken } from '../portal/crypto/hash.js';
import { hashPassword } from '../portal/crypto/password.js';
import { listen } from '../portal/http/server.js';
import { createLogger } from '../portal/logger.js';
import { createAccessTokens } from '../portal/oauth/access-tokens.js';
import { issueTokens } from '../portal/oauth/issue-tokens.js';
import { createRefreshTokens } from '../portal/oauth/refresh-tokens.js';
import { MemoryStore, openStore } from '../portal/store/index.js';
import { answerCpuQueries } from './child-cpu.js';
import { removeKeys } from './portal.js';
import type { RefreshingClient, TokenServer } from './refresh-load.js';

const [storeKind, redisUrl, count] = [process.argv[2], process.argv[3], Number(process.argv[4] ?? 10)];
const keyPrefix = `gatehouse-bench-${randomUUID()}:`;
let handler: ReturnType<typeof createPortal>['handle'] | undefined;
const running = await listen((req, res) => handler!(req, res), { host: '127.0.0.1', port: 0 });
const config = resolveConfig(
  {
    login: {
      accounts: [
        { username: 'alice', password_hash: await hashPassword('alice-bench-password'), email: 'alice@example.com', groups: ['eng'] },
      ],
    },
    // The bench measures the grant, not the limits.
    rate_limits: { token_per_minute: 1_000_000_000, token_per_client_per_minute: 1_000_000_000 },
  },
  { GATEHOUSE_SECRET: 'bench-secret-0123456789abcdef-0123456789', PUBLIC_URL: running.url, LOG_LEVEL: 'silent' },
  'bench',
);
const store = storeKind === 'redis' ? await openStore({ redisUrl, keyPrefix }) : new MemoryStore();
const portal = createPortal({ config, store, logger: createLogger({ level: 'silent' }) });
handler = portal.handle;

/** Registers a client at `/register` and grants it (as a consent would) a refresh token for `/mcp`. */
async function seedClient(): Promise<RefreshingClient> {
  const res = await fetch(`${running.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: ['http://127.0.0.1:9/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      client_name: 'bench agent',
    }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  const registered = (await res.json()) as { client_id: string; client_secret: string };
  // Issued as the token endpoint would: the same Store and signing keys as the portal's.
  const deps = {
    config,
    grants: portal.grants,
    clients: portal.clients,
    accessTokens: createAccessTokens({ issuer: config.issuer, keys: portal.keys }),
    refreshTokens: createRefreshTokens({ store, graceMs: config.tokens.refreshReuseGraceMs }),
  };
  const client = (await deps.clients.find(registered.client_id))!;
  const person = (await portal.people.current({ id: 'local:alice', idp: 'local', username: 'alice', emailVerified: true, groups: [] }))!;
  const tokens = await issueTokens(deps, client, {
    id: randomToken(16),
    kind: 'person',
    person,
    clientId: client.clientId,
    clientName: client.clientName,
    scope: ['mcp'],
    resource: `${running.url}/mcp`,
    upstreamIds: [],
    longLived: true,
    createdAt: Date.now(),
  });
  return { clientId: registered.client_id, secret: registered.client_secret, refreshToken: tokens.refresh_token! };
}

const clients: RefreshingClient[] = [];
for (let i = 0; i < count; i++) clients.push(await seedClient());
const server: TokenServer = { tokenEndpoint: `${running.url}/token`, clients };
process.stdout.write(`${JSON.stringify(server)}\n`);
answerCpuQueries();
process.on('SIGTERM', () => {
  void (async () => {
    await running.close(1_000);
    await portal.close();
    await store.close();
    if (storeKind === 'redis') await removeKeys(redisUrl!, keyPrefix);
    process.exit(0);
  })();
});
