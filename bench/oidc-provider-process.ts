/// <reference path="../test/helpers/oidc-provider.d.ts" />
/**
 * Child process of the token benchmark: node-oidc-provider, the authorization server a user would
 * pick instead, configured for the portal's workload: refresh-token rotation, `client_secret_basic`,
 * an RFC 8707 resource whose access tokens are ES256 JWTs (RFC 9068), its default (memory) adapter.
 * argv[2] clients each hold a refresh token; prints its {@link TokenServer} as JSON, answers CPU
 * queries, stops on SIGTERM.
 */
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { randomToken } from '../portal/crypto/hash.js';
import { answerCpuQueries } from './child-cpu.js';
import type { RefreshingClient, TokenServer } from './refresh-load.js';

/** The models the seeding below uses (oidc-provider ships no types). */
interface ProviderModels {
  Client: { find(id: string): Promise<unknown> };
  Grant: new (fields: {
    accountId: string;
    clientId: string;
  }) => { addResourceScope(resource: string, scope: string): void; save(): Promise<string> };
  RefreshToken: new (fields: Record<string, unknown>) => { save(): Promise<string> };
}

const count = Number(process.argv[2] ?? 10);
const DAY_SECONDS = 86_400;
let handler: ReturnType<Provider['callback']> | undefined;
const server = createServer((req, res) => handler!(req, res));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const address = server.address() as { port: number };
const issuer = `http://127.0.0.1:${address.port}`;
const resource = `${issuer}/mcp`;
const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const clients = Array.from({ length: count }, (_, i) => ({ clientId: `bench-agent-${i}`, secret: randomToken() }));

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    client_id: c.clientId,
    client_secret: c.secret,
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: ['http://127.0.0.1:9/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  })),
  jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'bench-key', alg: 'ES256', use: 'sig' }] },
  enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
  scopes: ['openid', 'offline_access', 'mcp'],
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'mcp', accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'ES256' } } }),
    },
  },
  ttl: { AccessToken: 600, RefreshToken: 30 * DAY_SECONDS, Grant: 30 * DAY_SECONDS },
  async findAccount(_ctx: unknown, id: string) {
    return { accountId: id, claims: async () => ({ sub: id }) };
  },
});
handler = provider.callback();

/** A grant of `mcp` at the resource and a refresh token under it, as a code exchange would leave them. */
async function seedClient(clientId: string, secret: string): Promise<RefreshingClient> {
  const models = provider as unknown as ProviderModels;
  const client = await models.Client.find(clientId);
  const grant = new models.Grant({ accountId: 'alice', clientId });
  grant.addResourceScope(resource, 'mcp');
  const grantId = await grant.save();
  const refreshToken = await new models.RefreshToken({
    accountId: 'alice',
    client,
    grantId,
    gty: 'authorization_code',
    scope: 'mcp',
    resource,
    iiat: Math.floor(Date.now() / 1000),
  }).save();
  return { clientId, secret, refreshToken };
}

const seeded: TokenServer = {
  tokenEndpoint: `${issuer}/token`,
  clients: await Promise.all(clients.map((c) => seedClient(c.clientId, c.secret))),
};
process.stdout.write(`${JSON.stringify(seeded)}\n`);
answerCpuQueries();
process.on('SIGTERM', () => server.close(() => process.exit(0)));
