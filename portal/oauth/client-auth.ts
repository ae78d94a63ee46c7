import type { Request } from 'express';
import { decodeJwt } from 'jose';
import { constantTimeEqual, sha256 } from '../crypto/hash.js';
import { verifyPassword } from '../crypto/password.js';
import { auditRequest } from '../audit/request-audit.js';
import { OAuthError } from '../http/errors.js';
import { CLIENT_ASSERTION_TYPE, ClientAssertionError, type ClientAssertions } from './client-assertion.js';
import type { Client, ClientRegistry } from './clients.js';

/**
 * Authenticates the client of a token, revocation or introspection request (RFC 6749 §2.3):
 * `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523 §2.2, service clients
 * with keys), or `none` (a public client names itself).
 * The method must be the one the client registered.
 *
 * @throws {OAuthError} `invalid_client` (401), `invalid_request` for two methods at once.
 */
export async function authenticateClient(req: Request, clients: ClientRegistry, assertions: ClientAssertions): Promise<Client> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (body.client_assertion !== undefined || body.client_assertion_type !== undefined)
    return authenticateByAssertion(req, body, clients, assertions);
  const basic = parseBasic(req.headers.authorization);
  const bodySecret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
  if (basic && (bodySecret !== undefined || (typeof body.client_id === 'string' && body.client_id !== basic.clientId))) {
    throw new OAuthError('invalid_request', 'use one client authentication method');
  }
  const clientId = basic?.clientId ?? (typeof body.client_id === 'string' ? body.client_id : undefined);
  const secret = basic?.secret ?? bodySecret;
  const method = basic ? 'client_secret_basic' : bodySecret !== undefined ? 'client_secret_post' : 'none';
  const challenge = basic ? { 'WWW-Authenticate': 'Basic realm="gatehouse"' } : undefined;
  const reject = (internal: string) => new OAuthError('invalid_client', 'client authentication failed', { headers: challenge, internal });

  if (!clientId) throw reject('no client_id');
  const client = await clients.find(clientId);
  if (!client) throw reject(`unknown client ${clientId}`);
  const registered = client.tokenEndpointAuthMethod;
  // A service client may use either secret method; others must use the one they registered.
  const allowed = client.kind === 'service' ? method !== 'none' && registered !== 'private_key_jwt' : method === registered;
  if (!allowed) throw reject(`client ${clientId} registered ${registered} but used ${method}`);
  if (method === 'none') return client;
  if (!client.secretHash || secret === undefined) throw reject('no secret');
  const valid =
    client.kind === 'service' ? await verifyPassword(secret, client.secretHash) : constantTimeEqual(sha256(secret), client.secretHash);
  if (!valid) throw reject(`wrong secret for ${clientId}`);
  return client;
}

/** `private_key_jwt` (RFC 7523 §2.2): the client is the assertion's `sub`, and `client_id` (if sent) must agree. */
async function authenticateByAssertion(
  req: Request,
  body: Record<string, unknown>,
  clients: ClientRegistry,
  assertions: ClientAssertions,
): Promise<Client> {
  if (req.headers.authorization !== undefined || body.client_secret !== undefined)
    throw new OAuthError('invalid_request', 'use one client authentication method');
  if (body.client_assertion_type !== CLIENT_ASSERTION_TYPE)
    throw new OAuthError('invalid_request', `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
  if (typeof body.client_assertion !== 'string') throw new OAuthError('invalid_request', 'client_assertion is required');
  const reject = (internal: string) => {
    auditRequest(
      req,
      {
        event: 'client_auth_failed',
        outcome: 'failure',
        client: typeof body.client_id === 'string' ? { id: body.client_id } : undefined,
        details: { method: 'private_key_jwt', reason: internal },
      },
      'client assertion refused',
    );
    return new OAuthError('invalid_client', 'client authentication failed', { internal });
  };
  let subject: unknown;
  try {
    subject = decodeJwt(body.client_assertion).sub;
  } catch {
    throw reject('client_assertion is not a JWT');
  }
  const clientId = typeof body.client_id === 'string' ? body.client_id : subject;
  if (typeof clientId !== 'string' || clientId !== subject) throw reject('client_id differs from the assertion sub');
  const client = await clients.find(clientId);
  if (!client) throw reject(`unknown client ${clientId}`);
  if (client.tokenEndpointAuthMethod !== 'private_key_jwt')
    throw reject(`client ${clientId} registered ${client.tokenEndpointAuthMethod} but used private_key_jwt`);
  try {
    await assertions.verify(body.client_assertion, client);
  } catch (error) {
    if (error instanceof ClientAssertionError) throw reject(error.message);
    throw error;
  }
  return client;
}

/**
 * The client credentials of an `Authorization: Basic` header (RFC 6749 §2.3.1), `undefined` without
 * the header. Any other Authorization is refused rather than ignored: a client that sent
 * credentials the portal cannot read must not be taken for a public client that sent none.
 */
function parseBasic(header: string | undefined): { clientId: string; secret: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!match) throw new OAuthError('invalid_request', 'the Authorization header must carry Basic client credentials');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new OAuthError('invalid_request', 'malformed Basic credentials');
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    };
  } catch {
    throw new OAuthError('invalid_request', 'malformed Basic credentials');
  }
}
