import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createGuardedFetch } from '../../portal/net/guarded-fetch.js';
import { GuardedFetchError } from '../../portal/net/fetch-errors.js';
import { selfSignedCertificate } from '../helpers/tls.js';
import { HUGE_ANSWER_BYTES, streamHugeAnswer } from '../helpers/huge-answer.js';

/** What a test server saw of one request: its path and whether the client hung up before the answer was complete. */
interface Seen {
  method: string;
  path: string;
  closedEarly: Promise<boolean>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A real server on 127.0.0.1 (http, or https with a self-signed certificate) whose answers the test sets per path. */
async function startServer(tls?: { key: string; cert: string }) {
  const routes = new Map<string, Handler>();
  const seen: Seen[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const closedEarly = new Promise<boolean>((resolve) => res.on('close', () => resolve(!res.writableFinished)));
    seen.push({ method: req.method ?? '', path: req.url ?? '', closedEarly });
    req.resume();
    const route = routes.get(req.url ?? '');
    if (route) route(req, res);
    else res.writeHead(404).end();
  };
  const server = tls ? https.createServer(tls, handle) : http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    routes,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
type TestServer = Awaited<ReturnType<typeof startServer>>;

const json =
  (body: unknown): Handler =>
  (_req, res) =>
    void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const redirect =
  (location: string): Handler =>
  (_req, res) =>
    void res.writeHead(302, { location }).end();

/** Streams `total` bytes in 64 KiB chunks, waiting for the client to take each (what a hostile 200 MB answer does). */
const huge =
  (total: number): Handler =>
  (_req, res) =>
    streamHugeAnswer(res, { total });

/** Sends the headers, then one byte every 50 ms for a minute: never idle, never done. */
const drip: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  const timer = setInterval(() => res.write(' '), 50);
  const stop = setTimeout(() => res.end('{}'), 60_000);
  res.on('close', () => {
    clearInterval(timer);
    clearTimeout(stop);
  });
};

/** Answers only when the test says so (a request held in flight). */
function held(body: unknown): { handler: Handler; release(): void } {
  const waiting: ServerResponse[] = [];
  let released = false;
  return {
    handler: (_req, res) => (released ? json(body)(_req, res) : void waiting.push(res)),
    release() {
      released = true;
      for (const res of waiting.splice(0)) if (!res.destroyed) json(body)(undefined as never, res);
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<GuardedFetchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GuardedFetchError);
  return error as GuardedFetchError;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('the guarded fetcher', () => {
  const tls = selfSignedCertificate();
  let plain: TestServer;
  let secure: TestServer;

  beforeAll(async () => {
    plain = await startServer();
    secure = await startServer(tls);
  });
  afterAll(async () => {
    await plain.close();
    await secure.close();
  });

  describe('addresses', () => {
    const strict = createGuardedFetch({ allowPrivateAddresses: false, ca: tls.cert });

    test('a redirect from an allowed origin to loopback or the cloud metadata address is refused, and nothing is sent there', async () => {
      secure.routes.set('/internal', json({ secret: true }));
      plain.routes.set('/to-loopback', redirect(`${secure.origin}/internal`));
      plain.routes.set('/to-metadata', redirect('https://169.254.169.254/latest/meta-data/'));
      plain.routes.set('/to-metadata-http', redirect('http://169.254.169.254/latest/meta-data/'));
      plain.routes.set('/to-localhost', redirect(`https://localhost:${secure.port}/internal`));
      const trustedOrigins = [plain.origin];
      for (const path of ['/to-loopback', '/to-metadata', '/to-metadata-http', '/to-localhost']) {
        const error = await failure(strict(`${plain.origin}${path}`, { trustedOrigins }));
        expect([path, error.code]).toEqual([path, 'blocked_address']);
      }
      expect(secure.seen.filter((s) => s.path === '/internal')).toEqual([]);
    });

    test('a host name is refused when it resolves to a loopback address (checked after DNS, at the address connected to)', async () => {
      secure.routes.set('/doc', json({ ok: true }));
      const error = await failure(strict(`https://localhost:${secure.port}/doc`));
      expect(error.code).toBe('blocked_address');
      expect(error.message).toMatch(/resolves to .* loopback/);
      expect(secure.seen.filter((s) => s.path === '/doc')).toEqual([]);
    });

    test.each([
      ['https://127.0.0.1/doc', 'blocked_address'],
      ['https://[::1]/doc', 'blocked_address'],
      ['https://[::ffff:7f00:1]/doc', 'blocked_address'],
      ['https://10.0.0.1/doc', 'blocked_address'],
      ['https://0.0.0.0/doc', 'blocked_address'],
      ['https://[fd00:ec2::254]/doc', 'blocked_address'],
      ['https://100.100.100.200/doc', 'blocked_address'],
      ['http://example.com/doc', 'not_https'],
      ['https://user:pass@example.com/doc', 'invalid_url'],
      ['file:///etc/passwd', 'invalid_url'],
      ['not a url', 'invalid_url'],
    ])('%s is refused before anything is sent: %s', async (url, code) => {
      expect((await failure(strict(url))).code).toBe(code);
    });

    test('when the operator allows private addresses, the same redirect is followed to an https loopback server', async () => {
      const allowing = createGuardedFetch({ allowPrivateAddresses: true, ca: tls.cert });
      const res = await allowing(`${plain.origin}/to-loopback`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ secret: true });
    });

    test("plain http is refused off the operator's own origins, also on loopback when private addresses are not allowed", async () => {
      plain.routes.set('/plain', json({ ok: true }));
      expect((await failure(strict(`${plain.origin}/plain`))).code).toBe('blocked_address');
      const allowing = createGuardedFetch({ allowPrivateAddresses: true });
      expect((await allowing(`${plain.origin}/plain`)).status).toBe(200);
      expect((await strict(`${plain.origin}/plain`, { trustedOrigins: [plain.origin] })).status).toBe(200);
    });
  });

  describe('limits', () => {
    const fetcher = createGuardedFetch({ allowPrivateAddresses: true, maxBodyBytes: 64 * 1024, deadlineMs: 500, maxRedirects: 2 });

    test('a 200 MB answer is cut off at the body limit: too_large, and the server sees the connection closed early', async () => {
      plain.routes.set('/huge', huge(HUGE_ANSWER_BYTES));
      const error = await failure(fetcher(`${plain.origin}/huge`));
      expect(error.code).toBe('too_large');
      const request = plain.seen.find((s) => s.path === '/huge')!;
      expect(await request.closedEarly).toBe(true);
    });

    test('a server that drips its answer is cut off at the deadline, not held by it', async () => {
      plain.routes.set('/drip', drip);
      const error = await failure(fetcher(`${plain.origin}/drip`));
      expect(error.code).toBe('deadline');
      expect(error.transient).toBe(true);
      expect(await plain.seen.find((s) => s.path === '/drip')!.closedEarly).toBe(true);
    });

    test('redirects are followed up to the limit, then refused', async () => {
      plain.routes.set('/r1', redirect('/r2'));
      plain.routes.set('/r2', redirect('/r3'));
      plain.routes.set('/r3', redirect('/end'));
      plain.routes.set('/end', json({ end: true }));
      expect(await (await fetcher(`${plain.origin}/r2`)).json()).toEqual({ end: true });
      expect((await failure(fetcher(`${plain.origin}/r1`))).code).toBe('too_many_redirects');
      expect((await failure(createGuardedFetch({ allowPrivateAddresses: true, maxRedirects: 0 })(`${plain.origin}/r3`))).code).toBe(
        'too_many_redirects',
      );
    });

    test('redirect: manual answers the redirect itself (as oauth4webapi asks)', async () => {
      const res = await fetcher(`${plain.origin}/r3`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/end');
    });
  });

  describe('sharing and abandoning', () => {
    const fetcher = createGuardedFetch({ allowPrivateAddresses: true, deadlineMs: 20_000 });

    test('two concurrent callers of one URL share one request and both get its answer', async () => {
      const slow = held({ shared: true });
      plain.routes.set('/shared', slow.handler);
      const both = Promise.all([fetcher(`${plain.origin}/shared`), fetcher(`${plain.origin}/shared`)]);
      await until(() => plain.seen.some((s) => s.path === '/shared'));
      slow.release();
      const [a, b] = await both;
      expect(await a.json()).toEqual({ shared: true });
      expect(await b.json()).toEqual({ shared: true });
      expect(plain.seen.filter((s) => s.path === '/shared')).toHaveLength(1);
    });

    test('POSTs are never shared', async () => {
      plain.routes.set('/token', json({ ok: true }));
      await Promise.all([1, 2].map(() => fetcher(`${plain.origin}/token`, { method: 'POST', body: new URLSearchParams({ a: '1' }) })));
      expect(plain.seen.filter((s) => s.path === '/token' && s.method === 'POST')).toHaveLength(2);
    });

    test('a caller that goes away stops waiting, and its request is abandoned', async () => {
      const slow = held({});
      plain.routes.set('/abandoned', slow.handler);
      const caller = new AbortController();
      const pending = fetcher(`${plain.origin}/abandoned`, { signal: caller.signal });
      await until(() => plain.seen.some((s) => s.path === '/abandoned'));
      caller.abort();
      expect((await failure(pending)).code).toBe('aborted');
      expect(await plain.seen.find((s) => s.path === '/abandoned')!.closedEarly).toBe(true);
      slow.release();
    });

    test('a shared request goes on while one caller waits, and stops when the last one leaves', async () => {
      const slow = held({ late: true });
      plain.routes.set('/kept', slow.handler);
      const first = new AbortController();
      const second = new AbortController();
      const a = fetcher(`${plain.origin}/kept`, { signal: first.signal });
      const b = fetcher(`${plain.origin}/kept`, { signal: second.signal });
      await until(() => plain.seen.some((s) => s.path === '/kept'));
      first.abort();
      expect((await failure(a)).code).toBe('aborted');
      slow.release();
      expect(await (await b).json()).toEqual({ late: true });
      expect(await plain.seen.find((s) => s.path === '/kept')!.closedEarly).toBe(false);

      const gone = held({});
      plain.routes.set('/left', gone.handler);
      const c = fetcher(`${plain.origin}/left`, { signal: first.signal });
      expect((await failure(c)).code).toBe('aborted');
      const third = new AbortController();
      const d = fetcher(`${plain.origin}/left`, { signal: second.signal });
      const e = fetcher(`${plain.origin}/left`, { signal: third.signal });
      await until(() => plain.seen.some((s) => s.path === '/left'));
      second.abort();
      third.abort();
      expect((await failure(d)).code).toBe('aborted');
      expect((await failure(e)).code).toBe('aborted');
      expect(await plain.seen.find((s) => s.path === '/left')!.closedEarly).toBe(true);
      gone.release();
    });
  });
});
