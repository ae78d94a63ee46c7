/**
 * Fuzzing the HTTP-app proxy's path and headers with fast-check, over raw sockets (so that what
 * is sent is exactly what was generated: `fetch` would normalize the path and refuse odd headers).
 *
 * Paths start from `/apps/wiki/docs/page` and are rebuilt from segments that include every dot
 * shape an app server might decode into `..` (percent-encoded once, twice or thrice, `%u`
 * escapes, overlong UTF-8, `;` path parameters, backslashes, encoded separators, NUL), then
 * edited as text. Headers start from an authorized request and gain forged portal cookies, a
 * forged `Gatehouse-Assertion`, forwarding headers, other Hosts, framing headers, or an edited
 * token. Whatever the input: never a 5xx, the portal keeps answering, no path that climbs out
 * of the app reaches it, nothing reaches it without a valid token, and the app never sees the
 * agent's token, the portal's cookies or a forged assertion.
 *
 * Replay a failure with the command its message prints:
 *   FUZZ_SEED=<seed> FUZZ_PATH=<path> npm test -- test/fuzz/app-proxy.test.ts -t '<target>:'
 * FUZZ_SEED alone reruns every target with that seed; FUZZ_RUNS=20 runs twenty times as many inputs.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { accessTokenFor } from '../helpers/app-token.js';
import { applyEdit, changed, fuzz, FUZZ_TIMEOUT_MS, FuzzTally, nastyText, oneIn, stringEdit } from '../helpers/fuzz.js';
import { ALICE, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';
import { rawRequest } from '../helpers/raw-http.js';

const tally = new FuzzTally('test/fuzz/app-proxy.test.ts');
const FORGED_SESSION = 'forged-session-3f1c';
const FORGED_LOGIN = 'forged-login-9a2e';
const FORGED_ASSERTION = 'forged.assertion.7d4b';

/** Segments an app server could read as a dot segment, and ordinary ones around them. */
const SEGMENTS = [
  'docs',
  'page',
  'a b',
  'x.html',
  '.',
  '..',
  '...',
  '%2e',
  '%2E%2e',
  '.%2e',
  '%2e.',
  '%252e%252e',
  '%25252e%25252e',
  '..;',
  '..;jsessionid=1',
  '%2e%2e%3b',
  '%2e%2e;',
  '..%3b',
  '%u002e%u002e',
  '%u002E.',
  '%c0%ae%c0%ae',
  '..\\',
  '..%5c',
  '..%2f',
  '%2f..',
  'a%2fb',
  '%00',
  '\\',
  ';',
  '%',
  '%zz',
  'é',
  '%e9',
  '~',
  '*',
  '..%00',
  '.%00.',
  '',
];

interface SeenRequest {
  url: string;
  headers: IncomingHttpHeaders;
}

/** An app that answers every request with 200 and a marker header, and remembers each one. */
function startCountingApp(): Promise<{ url: string; seen: SeenRequest[]; close(): Promise<void> }> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url!, headers: req.headers });
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'x-counting-app': 'yes' }).end('{"ok":true}');
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, seen, close: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}

/**
 * How app servers have been known to read a path segment: `%XX` escapes (always checked), IIS's
 * `%uXXXX`, overlong UTF-8 for `.` (`%c0%ae`), and Tomcat's `;` path parameters (`..;x` is `..`).
 * The portal refuses the first kind today; the path-traversal fix (`..;/`, `%2e%2e%3b/`, `%u002e`)
 * turns the others on here, and then this fuzzer holds the portal to all of them.
 */
const APP_DECODINGS = { percentU: true, overlongUtf8: true, pathParameters: true };

/** Whether an app that decodes as {@link APP_DECODINGS} says (and takes `\` for `/`) would climb a level on `url`'s path. */
function climbsOut(url: string): boolean {
  const path = url.split('?')[0]!;
  return path.split('/').some((segment) => {
    let text = segment;
    for (let round = 0; round < 5; round++) {
      const parts = text.split(/[\\/]/).map((part) => (APP_DECODINGS.pathParameters ? part.split(';')[0] : part));
      if (text.includes('\0') || parts.some((part) => part === '.' || part === '..')) return true;
      let next = text;
      if (APP_DECODINGS.overlongUtf8) next = next.replace(/%c0%ae/gi, '.');
      if (APP_DECODINGS.percentU) next = next.replace(/%u([0-9a-f]{4})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      next = next.replace(/%([0-7][0-9a-f])/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      if (next === text) return false;
      text = next;
    }
    return true;
  });
}

describe('fuzzing the HTTP-app proxy', () => {
  let app: Awaited<ReturnType<typeof startCountingApp>>;
  let portal: TestPortal;
  let port: number;
  let token: string;

  beforeAll(async () => {
    app = await startCountingApp();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'wiki', kind: 'http', url: app.url },
          { id: 'hosted', kind: 'http', url: app.url, host: 'hosted.localhost' },
        ],
      },
    });
    port = Number(new URL(portal.url).port);
    token = await accessTokenFor(portal.url, ALICE, `${portal.url}/apps/wiki`);
  });
  afterEach(async () => {
    expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
  });
  afterAll(async () => {
    tally.print();
    await portal?.close();
    await app?.close();
  });

  let run = 0;
  /**
   * Sends a raw request (head lines, then `body`) and what the app received because of it: each
   * request carries its run's number, so a request that reaches the app late is never counted
   * for the next one.
   */
  async function exchange(head: string[], body = ''): Promise<{ status: number; fromApp: boolean; reached: SeenRequest[] }> {
    const id = String(++run);
    const answer = await rawRequest(port, `${[...head, `X-Fuzz-Run: ${id}`, 'Connection: close'].join('\r\n')}\r\n\r\n${body}`, 500);
    return {
      status: answer.status,
      fromApp: /\r\nx-counting-app: yes\r\n/i.test(answer.text),
      reached: app.seen.filter((request) => request.headers['x-fuzz-run'] === id),
    };
  }

  test(
    'path: no path that climbs out of the app reaches it; refused paths reach nothing',
    async () => {
      const input = fc.record({
        mount: fc.oneof(
          { arbitrary: fc.constant('/apps/wiki'), weight: 8 },
          fc.constantFrom('/apps/WIKI', '/apps//wiki', '/apps/%77iki', '/apps/wiki%2f..', '/apps/./wiki', '/apps/wiki;x', ''),
        ),
        segments: fc.array(fc.oneof({ arbitrary: fc.constantFrom(...SEGMENTS), weight: 4 }, fc.webSegment(), nastyText), {
          minLength: 1,
          maxLength: 5,
        }),
        query: oneIn(3, fc.constantFrom('?x=1', '?..', '?a=%2e%2e/', '?', '#frag', '?%zz')),
        text: oneIn(5, stringEdit),
      });

      await fuzz(
        tally,
        'path',
        input,
        async ({ mount, segments, query, text }) => {
          const path = `${mount}/${segments.join('/')}${query ?? ''}`;
          const target = text ? applyEdit(path, text) : path;
          const { status, fromApp, reached } = await exchange([
            `GET ${target} HTTP/1.1`,
            `Host: 127.0.0.1:${port}`,
            `Authorization: Bearer ${token}`,
          ]);
          expect(status).not.toBe(0);
          expect(status).toBeLessThan(500);
          for (const request of reached) expect(climbsOut(request.url)).toBe(false);
          if (!fromApp) expect(reached).toEqual([]);
        },
        400,
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  test(
    'headers: the app never sees the token, portal cookies or a forged assertion; nothing reaches it without a valid token',
    async () => {
      const header = fc.oneof(
        fc.record({
          name: fc.constant('Cookie'),
          value: fc.constantFrom(
            `gatehouse_session=${FORGED_SESSION}`,
            `app=1; gatehouse_session=${FORGED_SESSION}`,
            `gatehouse_login=${FORGED_LOGIN}; app=2`,
            `gatehouse_session=${FORGED_SESSION};gatehouse_login=${FORGED_LOGIN}`,
            `app=1;  gatehouse_session=${FORGED_SESSION}`,
            'app=1',
          ),
        }),
        fc.record({
          name: fc.constantFrom('Gatehouse-Assertion', 'gatehouse-assertion', 'GATEHOUSE-ASSERTION'),
          value: fc.constant(FORGED_ASSERTION),
        }),
        fc.record({
          name: fc.constantFrom(
            'X-Forwarded-For',
            'X-Forwarded-Host',
            'X-Forwarded-Proto',
            'Forwarded',
            'X-Real-IP',
            'X-Original-URL',
            'X-Rewrite-URL',
          ),
          value: fc.oneof(fc.constantFrom('10.0.0.1', 'evil.example', 'https', 'for=1.2.3.4;host=evil', '/apps/wiki/../admin'), nastyText),
        }),
        fc.record({
          name: fc.constant('Host'),
          value: fc.constantFrom(
            'hosted.localhost',
            'HOSTED.LOCALHOST',
            'hosted.localhost.',
            'evil.example',
            '',
            `[::1]:${port}`,
            `localhost:${port}`,
          ),
        }),
        fc.record({
          name: fc.constantFrom(
            'Content-Length',
            'Transfer-Encoding',
            'TE',
            'Trailer',
            'Connection',
            'Upgrade',
            'Expect',
            'Proxy-Authorization',
            'Keep-Alive',
          ),
          value: fc.constantFrom(
            '0',
            '-1',
            'abc',
            '0, 0',
            'chunked',
            'gzip, chunked',
            'close',
            'Upgrade',
            'websocket',
            '100-continue',
            'Basic eDp5',
            'trailers',
          ),
        }),
        fc.record({
          name: fc.oneof(fc.constantFrom('Authorization', 'X-Api-Key', 'Accept', 'Accept-Encoding', 'Range', 'If-None-Match'), nastyText),
          value: nastyText,
        }),
      );
      const input = fc.record({
        headers: fc.array(header, { minLength: 1, maxLength: 4 }),
        tokenEdit: oneIn(4, stringEdit),
        path: fc.constantFrom('/apps/wiki/echo', '/apps/wiki/', '/echo'),
      });

      await fuzz(
        tally,
        'headers',
        input,
        async ({ headers, tokenEdit, path }) => {
          const bearer = tokenEdit ? changed(token, tokenEdit) : token;
          const hostGiven = headers.some((h) => h.name.toLowerCase() === 'host');
          const lines = [
            `GET ${path} HTTP/1.1`,
            ...(hostGiven ? [] : [`Host: 127.0.0.1:${port}`]),
            `Authorization: Bearer ${bearer}`,
            ...headers.map((h) => `${h.name}: ${h.value}`),
          ];
          const chunked = headers.some((h) => /^transfer-encoding$/i.test(h.name) && /chunked/i.test(h.value));
          const { status, fromApp, reached } = await exchange(lines, chunked ? '0\r\n\r\n' : '');
          expect(status).not.toBe(0);
          expect(status).toBeLessThan(500);
          if (!fromApp) expect(reached).toEqual([]);
          if (reached.length) expect(tokenEdit === null || bearer === token).toBe(true);
          for (const request of reached) {
            const all = JSON.stringify(request.headers);
            expect(all).not.toContain(bearer);
            expect(all).not.toContain(FORGED_SESSION);
            expect(all).not.toContain(FORGED_LOGIN);
            expect(all).not.toContain(FORGED_ASSERTION);
          }
        },
        300,
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
