import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { ServerResponse } from 'node:http';
import { listen } from '../../portal/http/server.js';
import { streamHugeAnswer } from './huge-answer.js';

/** How the fake IdP gets its ID token wrong (each one a check OIDC Core 1.0 §3.1.3.7 requires). */
export interface Misbehaviour {
  nonce?: string;
  aud?: string;
  iss?: string;
  /** `exp` an hour ago. */
  expired?: boolean;
  /** Signed with a key that is not in its JWKS. */
  foreignKey?: boolean;
  /** Its JWKS answer is 200 MB of whitespace, streamed as fast as the client takes it. */
  hugeJwks?: boolean;
  /** Its discovery names the token, JWKS and UserInfo endpoints on this origin instead of the issuer's. */
  endpointsOrigin?: string;
}

export interface FakeIdp {
  issuer: string;
  misbehave: Misbehaviour;
  claims: Record<string, unknown>;
  /** Paths whose answer the client hung up on before it ended. */
  hungUp: string[];
  /** The paths of the requests it answered, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A minimal OpenID provider with real cryptography (jose, ES256) for what `oidc-provider` cannot
 * be made to do: issue broken ID tokens. Its `/authorize` signs the person in at once (no UI)
 * and its token endpoint checks PKCE and the client secret like a real one, then applies `misbehave`.
 */
export async function startFakeIdp(client: { clientId: string; clientSecret: string }): Promise<FakeIdp> {
  const good = await generateKeyPair('ES256');
  const foreign = await generateKeyPair('ES256');
  const publicJwk = { ...(await exportJWK(good.publicKey)), kid: 'good', alg: 'ES256', use: 'sig' };
  const codes = new Map<string, { nonce: string; challenge: string; redirectUri: string }>();
  const state: Omit<FakeIdp, 'issuer' | 'close'> = {
    misbehave: {},
    hungUp: [],
    requests: [],
    claims: { email: 'frank@fake.example', email_verified: true, name: 'Frank', groups: ['eng'] },
  };
  let issuer = '';

  const running = await listen(
    async (req, res) => {
      const url = new URL(req.url ?? '/', issuer);
      state.requests.push(url.pathname);
      const endpoints = state.misbehave.endpointsOrigin ?? issuer;
      const json = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
      if (url.pathname === '/.well-known/openid-configuration') {
        return json(200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${endpoints}/token`,
          jwks_uri: `${endpoints}/jwks`,
          userinfo_endpoint: `${endpoints}/userinfo`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
          code_challenge_methods_supported: ['S256'],
        });
      }
      if (url.pathname === '/jwks' && state.misbehave.hugeJwks) return streamHuge(res, () => state.hungUp.push('/jwks'));
      if (url.pathname === '/jwks') return json(200, { keys: [publicJwk] });
      if (url.pathname === '/authorize') {
        const code = randomBytes(16).toString('base64url');
        codes.set(code, {
          nonce: url.searchParams.get('nonce') ?? '',
          challenge: url.searchParams.get('code_challenge') ?? '',
          redirectUri: url.searchParams.get('redirect_uri') ?? '',
        });
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        res.writeHead(302, { location: back.href }).end();
        return;
      }
      if (url.pathname === '/token' && req.method === 'POST') {
        let body = '';
        for await (const chunk of req) body += chunk;
        const form = new URLSearchParams(body);
        // RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded.
        const [id, secret] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64')
          .toString()
          .split(':')
          .map((part) => decodeURIComponent(part.replace(/\+/g, ' ')));
        if (id !== client.clientId || secret !== client.clientSecret) return json(401, { error: 'invalid_client' });
        const grant = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        if (
          !grant ||
          grant.redirectUri !== form.get('redirect_uri') ||
          createHash('sha256').update(verifier).digest('base64url') !== grant.challenge
        ) {
          return json(400, { error: 'invalid_grant' });
        }
        const m = state.misbehave;
        const now = Math.floor(Date.now() / 1000);
        const key: CryptoKey = m.foreignKey ? foreign.privateKey : good.privateKey;
        const idToken = await new SignJWT({ nonce: m.nonce ?? grant.nonce, ...state.claims })
          .setProtectedHeader({ alg: 'ES256', kid: 'good' })
          .setIssuer(m.iss ?? issuer)
          .setAudience(m.aud ?? client.clientId)
          .setSubject('frank')
          .setIssuedAt(m.expired ? now - 7200 : now)
          .setExpirationTime(m.expired ? now - 3600 : now + 300)
          .sign(key);
        return json(200, { access_token: randomBytes(16).toString('base64url'), token_type: 'Bearer', expires_in: 300, id_token: idToken });
      }
      if (url.pathname === '/userinfo') return json(200, { sub: 'frank', ...state.claims });
      json(404, { error: 'not_found' });
    },
    { host: '127.0.0.1', port: 0 },
  );
  issuer = running.url;
  return {
    issuer,
    get misbehave() {
      return state.misbehave;
    },
    set misbehave(value) {
      state.misbehave = value;
    },
    get claims() {
      return state.claims;
    },
    set claims(value) {
      state.claims = value;
    },
    hungUp: state.hungUp,
    requests: state.requests,
    close: () => running.close(1_000),
  };
}

/** 200 MB of JSON whitespace in 64 KiB chunks, each written when the client has taken the last. */
function streamHuge(res: ServerResponse, onHungUp: () => void): void {
  streamHugeAnswer(res, { onHungUp });
}
