import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import { discoverAuthorizationServer, requireCodeFlowEndpoints } from '../../portal/oauth-client/discovery.js';
import { classifyOAuthFailure } from '../../portal/oauth-client/failure.js';

describe('discoverAuthorizationServer', () => {
  const documents = new Map<string, { status: number; body: unknown }>();
  const asked: string[] = [];
  let server: Server;
  let origin: string;
  const loopback = { [oauth.allowInsecureRequests]: true };

  beforeAll(async () => {
    // An authorization server on loopback: what each test puts in `documents` (by path), 404 elsewhere.
    server = createServer((req, res) => {
      asked.push(req.url!);
      const doc = documents.get(req.url!);
      if (!doc) return void res.writeHead(404).end();
      res.writeHead(doc.status, { 'content-type': 'application/json' }).end(JSON.stringify(doc.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    documents.clear();
    asked.length = 0;
  });

  test('RFC 8414 first; OpenID Connect Discovery when that finds no document', async () => {
    documents.set('/t1/.well-known/openid-configuration', {
      status: 200,
      body: { issuer: `${origin}/t1`, authorization_endpoint: `${origin}/authorize` },
    });
    const as = await discoverAuthorizationServer(`${origin}/t1`, ['oauth2', 'oidc'], loopback);
    expect(as.issuer).toBe(`${origin}/t1`);
    expect(asked).toEqual(['/.well-known/oauth-authorization-server/t1', '/t1/.well-known/openid-configuration']);
  });

  test('any other failure of RFC 8414 stops discovery (it is not retried as OpenID)', async () => {
    documents.set('/.well-known/oauth-authorization-server', { status: 503, body: {} });
    const failure = await discoverAuthorizationServer(origin, ['oauth2', 'oidc'], loopback).catch((error: unknown) =>
      classifyOAuthFailure(error),
    );
    expect(failure).toMatchObject({ kind: 'unavailable' });
    expect(asked).toEqual(['/.well-known/oauth-authorization-server']);
  });

  test('metadata without the endpoints the code flow needs is an invalid response', async () => {
    documents.set('/.well-known/oauth-authorization-server', { status: 200, body: { issuer: origin, token_endpoint: `${origin}/token` } });
    const as = await discoverAuthorizationServer(origin, ['oauth2'], loopback);
    expect(() => requireCodeFlowEndpoints(as)).toThrow(expect.objectContaining({ kind: 'invalid_response' }));
  });
});
