import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as oauth from 'oauth4webapi';
import { FormBrowser } from '../helpers/browser-form-client.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { streamHugeAnswer } from '../helpers/huge-answer.js';

const REDIRECT_URI = 'http://127.0.0.1:9999/callback';

describe('client ID metadata documents (https URLs as client_id)', () => {
  const tls = selfSignedCertificate();
  const documents = new Map<string, { status?: number; body: string; headers?: Record<string, string> }>();
  /** Documents that answer slowly or endlessly, and whether the portal hung up on them before they ended. */
  const streamed = new Map<string, { write(res: ServerResponse): void; closedEarly?: Promise<boolean> }>();
  let server: Server;
  let origin: string;
  let portal: TestPortal;
  let fetches = 0;

  beforeAll(async () => {
    server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      fetches++;
      const stream = streamed.get(req.url ?? '');
      if (stream) {
        stream.closedEarly = new Promise((resolve) => res.on('close', () => resolve(!res.writableFinished)));
        return stream.write(res);
      }
      const doc = documents.get(req.url ?? '');
      if (!doc) return void res.writeHead(404).end();
      res.writeHead(doc.status ?? 200, { 'content-type': 'application/json', ...doc.headers }).end(doc.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    portal = await startTestPortal({
      document: { login: { accounts: await testAccounts() }, clients: { metadata_documents: { allow_private_addresses: true } } },
      metadataDocumentCa: tls.cert,
    });
  });
  afterAll(async () => {
    await portal.close();
    await new Promise((resolve) => server.close(resolve));
  });

  function publish(
    file: string,
    doc: Record<string, unknown> | string,
    extra: { status?: number; headers?: Record<string, string> } = {},
  ): string {
    documents.set(file, { body: typeof doc === 'string' ? doc : JSON.stringify(doc), ...extra });
    return `${origin}${file}`;
  }

  async function authorizeUrl(clientId: string, verifier: string): Promise<string> {
    const url = new URL(`${portal.url}/authorize`);
    url.search = new URLSearchParams({
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'xyz',
    }).toString();
    return url.href;
  }

  test('a valid document is fetched, named on the consent page, and completes the flow', async () => {
    const clientId = publish('/agent.json', {
      client_id: `${origin}/agent.json`,
      client_name: 'Hosted Agent',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
    });
    const verifier = oauth.generateRandomCodeVerifier();
    const browser = new FormBrowser(portal.url);
    const signIn = await browser.follow(await authorizeUrl(clientId, verifier));
    const consent = await browser.signIn(signIn, ALICE);
    const page = await consent.text();
    expect(page).toContain('Hosted Agent');
    expect(page).toContain(clientId);
    // The host that publishes the document stands behind the name.
    expect(page).toContain(`Published by <strong>${new URL(clientId).host}</strong>.`);
    expect(page).not.toContain('Unverified');

    const callback = await browser.authorize(await authorizeUrl(clientId, verifier), ALICE);
    const code = callback.searchParams.get('code')!;
    const res = await fetch(`${portal.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: REDIRECT_URI,
        client_id: clientId,
      }),
    });
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { access_token: string };
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims.client_id).toBe(clientId);
  });

  test.each<[string, () => string]>([
    [
      'its client_id differs from its URL',
      () => publish('/mismatch.json', { client_id: `${origin}/other.json`, redirect_uris: [REDIRECT_URI] }),
    ],
    ['it redirects elsewhere', () => publish('/moved.json', '', { status: 302, headers: { location: `${origin}/agent.json` } })],
    [
      'it is larger than the bound',
      () => publish('/huge.json', { client_id: `${origin}/huge.json`, redirect_uris: [REDIRECT_URI], padding: 'x'.repeat(10_000) }),
    ],
    ['it is not JSON', () => publish('/garbage.json', '<html>')],
    [
      'it carries a client secret',
      () => publish('/secret.json', { client_id: `${origin}/secret.json`, redirect_uris: [REDIRECT_URI], client_secret: 's' }),
    ],
    [
      'it registers a javascript: redirect URI',
      () => publish('/js.json', { client_id: `${origin}/js.json`, redirect_uris: ['javascript:alert(1)'] }),
    ],
    [
      'it says application_type "web" but redirects to loopback http',
      () =>
        publish('/web-loopback.json', { client_id: `${origin}/web-loopback.json`, application_type: 'web', redirect_uris: [REDIRECT_URI] }),
    ],
    [
      'its application_type is neither web nor native',
      () => publish('/desktop.json', { client_id: `${origin}/desktop.json`, application_type: 'desktop', redirect_uris: [REDIRECT_URI] }),
    ],
    ['it does not exist', () => `${origin}/missing.json`],
  ])('a document is refused when %s: an error page, never a redirect', async (_case, make) => {
    const res = await new FormBrowser(portal.url).get(await authorizeUrl(make(), oauth.generateRandomCodeVerifier()));
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('not registered');
  });

  test('a document that says application_type "native" may use a loopback redirect URI, on any port (RFC 8252 §7.3)', async () => {
    const clientId = publish('/native.json', {
      client_id: `${origin}/native.json`,
      client_name: 'Native Agent',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
    });
    const res = await new FormBrowser(portal.url).follow(await authorizeUrl(clientId, oauth.generateRandomCodeVerifier()));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('action="/login"');
  });

  /** A document that sends one byte every 50 ms for a minute: never idle, never finished, and well under the size limit. */
  function dripping(file: string): string {
    streamed.set(file, {
      write(res) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const timer = setInterval(() => res.write(' '), 50);
        const stop = setTimeout(() => res.end(JSON.stringify({ client_id: `${origin}${file}`, redirect_uris: [REDIRECT_URI] })), 60_000);
        res.on('close', () => {
          clearInterval(timer);
          clearTimeout(stop);
        });
      },
    });
    return `${origin}${file}`;
  }

  test('a document that drips in slowly is given up at the deadline: the person gets the invalid_client page, and the portal hangs up', async () => {
    const clientId = dripping('/slow.json');
    const res = await new FormBrowser(portal.url).get(await authorizeUrl(clientId, oauth.generateRandomCodeVerifier()));
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('not registered');
    expect(await streamed.get('/slow.json')!.closedEarly).toBe(true);
    expect(portal.logs.lines.some((l) => l.clientId === clientId && String(l.reason).startsWith('deadline'))).toBe(true);
  });

  test('an agent whose client id document drips in slowly gets invalid_client from /token, not a held connection', async () => {
    const clientId = dripping('/slow-token.json');
    const res = await fetch(`${portal.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'any',
        code_verifier: 'v'.repeat(43),
        redirect_uri: REDIRECT_URI,
        client_id: clientId,
      }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    expect(await streamed.get('/slow-token.json')!.closedEarly).toBe(true);
  });

  test('a 200 MB document is cut off at the size limit without being read to its end', async () => {
    streamed.set('/endless.json', {
      write(res) {
        streamHugeAnswer(res);
      },
    });
    const res = await new FormBrowser(portal.url).get(await authorizeUrl(`${origin}/endless.json`, oauth.generateRandomCodeVerifier()));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('not registered');
    expect(await streamed.get('/endless.json')!.closedEarly).toBe(true);
    expect(portal.logs.lines.some((l) => l.clientId === `${origin}/endless.json` && String(l.reason).startsWith('too_large'))).toBe(true);
  });

  test('concurrent authorizations with one new client id fetch its document once', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let requests = 0;
    streamed.set('/popular.json', {
      write(res) {
        requests++;
        void released.then(() =>
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ client_id: `${origin}/popular.json`, redirect_uris: [REDIRECT_URI] })),
        );
      },
    });
    const clientId = `${origin}/popular.json`;
    const both = Promise.all(
      [1, 2].map(async () => new FormBrowser(portal.url).follow(await authorizeUrl(clientId, oauth.generateRandomCodeVerifier()))),
    );
    while (requests === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    release();
    for (const res of await both) expect(res.status).toBe(200);
    expect(requests).toBe(1);
  });

  test('documents are cached: a second authorization does not fetch again', async () => {
    const clientId = publish('/cached.json', { client_id: `${origin}/cached.json`, redirect_uris: [REDIRECT_URI] });
    await new FormBrowser(portal.url).get(await authorizeUrl(clientId, oauth.generateRandomCodeVerifier()));
    const before = fetches;
    await new FormBrowser(portal.url).get(await authorizeUrl(clientId, oauth.generateRandomCodeVerifier()));
    expect(fetches).toBe(before);
  });

  test('by default a client id may not point at a private or loopback address', async () => {
    const strict = await startTestPortal({ metadataDocumentCa: tls.cert });
    try {
      const clientId = publish('/private.json', { client_id: `${origin}/private.json`, redirect_uris: [REDIRECT_URI] });
      const before = fetches;
      const url = (await authorizeUrl(clientId, oauth.generateRandomCodeVerifier())).replace(portal.url, strict.url);
      const res = await new FormBrowser(strict.url).get(url);
      expect(res.status).toBe(400);
      expect(fetches).toBe(before);
    } finally {
      await strict.close();
    }
  });
});
