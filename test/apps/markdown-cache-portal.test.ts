import { accessTokenFor } from '../helpers/app-token.js';
import { startPagesApp, type PagesApp } from '../helpers/pages-app.js';
import { ALICE, BOB, startTestPortal, testAccounts, type TestPortal } from '../helpers/portal.js';

describe('the cache of converted pages, through the portal', () => {
  let portal: TestPortal;
  let app: PagesApp;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    app = await startPagesApp();
    portal = await startTestPortal({
      document: {
        login: { accounts: await testAccounts() },
        upstreams: [
          { id: 'docs', kind: 'http', url: app.url, markdown: true },
          // The same app without a per-person credential: the only way a page may be shared.
          { id: 'public-docs', kind: 'http', url: app.url, markdown: true, credentials: { type: 'none' } },
        ],
      },
    });
    [alice, bob] = await Promise.all([
      accessTokenFor(portal.url, ALICE, `${portal.url}/mcp`),
      accessTokenFor(portal.url, BOB, `${portal.url}/mcp`),
    ]);
  });
  afterAll(async () => {
    await portal.close();
    await app.close();
  });

  const get = async (token: string, path: string, extra: Record<string, string> = {}) => {
    const res = await fetch(`${portal.url}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/markdown', ...extra } });
    return {
      status: res.status,
      cacheStatus: res.headers.get('cache-status'),
      type: res.headers.get('content-type'),
      markdown: await res.text(),
    };
  };

  test('a changed page is not served stale: a new ETag brings new Markdown', async () => {
    app.pages.set('/changing', {
      headers: { etag: '"v1"', 'cache-control': 'no-cache' },
      body: () => '<h1>Release notes</h1><p>Version one is out.</p>',
    });
    const first = await get(alice, '/apps/docs/changing');
    expect(first.markdown).toContain('Version one is out.');
    expect(first.cacheStatus).toBe('gatehouse; fwd=uri-miss; fwd-status=200; stored');

    app.pages.set('/changing', {
      headers: { etag: '"v2"', 'cache-control': 'no-cache' },
      body: () => '<h1>Release notes</h1><p>Version two is out.</p>',
    });
    const second = await get(alice, '/apps/docs/changing');
    expect(second.markdown).toContain('Version two is out.');
    expect(second.markdown).not.toContain('Version one');
    expect(second.cacheStatus).toBe('gatehouse; fwd=stale; fwd-status=200; stored');
    expect(app.take('/changing').map((seen) => seen.ifNoneMatch)).toEqual([undefined, '"v1"']);
  });

  test('a 304 to the revalidation reuses the cached Markdown', async () => {
    app.pages.set('/stable', {
      headers: { etag: '"same"', 'cache-control': 'max-age=0' },
      body: () => '<h1>Glossary</h1><dl><dt>Entry</dt><dd>One movement of money.</dd></dl>',
    });
    const first = await get(alice, '/apps/docs/stable');
    const second = await get(alice, '/apps/docs/stable');
    expect(second.status).toBe(200);
    expect(second.type).toBe('text/markdown; charset=utf-8; variant=gfm');
    expect(second.markdown).toBe(first.markdown);
    expect(second.cacheStatus).toBe('gatehouse; fwd=stale; fwd-status=304');
    expect(app.take('/stable').map((seen) => seen.ifNoneMatch)).toEqual([undefined, '"same"']);
  });

  test('Last-Modified alone is revalidated with If-Modified-Since', async () => {
    const lastModified = 'Tue, 01 Dec 2026 10:00:00 GMT';
    app.pages.set('/dated', {
      headers: { 'last-modified': lastModified, 'cache-control': 'no-cache' },
      body: () => '<h1>Dated</h1><p>Written on the first.</p>',
    });
    await get(alice, '/apps/docs/dated');
    await get(alice, '/apps/docs/dated');
    expect(app.take('/dated').map((seen) => seen.ifModifiedSince)).toEqual([undefined, lastModified]);
  });

  test('a fresh page (max-age) is answered without asking the app', async () => {
    app.pages.set('/fresh', {
      headers: { etag: '"f"', 'cache-control': 'private, max-age=600' },
      body: (person) => `<h1>Fresh</h1><p>For ${person}.</p>`,
    });
    const first = await get(alice, '/apps/docs/fresh');
    const second = await get(alice, '/apps/docs/fresh');
    expect(second.markdown).toBe(first.markdown);
    expect(second.cacheStatus).toBe('gatehouse; hit');
    expect(app.take('/fresh')).toHaveLength(1);
  });

  test("a private page is never served to another person, and the agent's own Cache-Control: no-cache forces a revalidation", async () => {
    app.pages.set('/me', {
      headers: { etag: '"me"', 'cache-control': 'private, max-age=600' },
      body: (person) => `<h1>Your page</h1><p>Salary of ${person}: secret.</p>`,
    });
    expect((await get(alice, '/apps/docs/me')).markdown).toContain('Salary of Alice');
    const forBob = await get(bob, '/apps/docs/me');
    expect(forBob.markdown).toContain('Salary of Bob');
    expect(forBob.markdown).not.toContain('Alice');
    expect(forBob.cacheStatus).toBe('gatehouse; fwd=uri-miss; fwd-status=200; stored');
    // Each person's copy stays theirs.
    expect((await get(alice, '/apps/docs/me')).markdown).toContain('Salary of Alice');
    expect((await get(bob, '/apps/docs/me')).markdown).toContain('Salary of Bob');
    expect((await get(bob, '/apps/docs/me', { 'cache-control': 'no-cache' })).cacheStatus).toBe('gatehouse; fwd=stale; fwd-status=304');
    expect(app.take('/me').map((seen) => seen.person)).toEqual(['Alice', 'Bob', 'Bob']);
  });

  test('a public page fetched with a per-person credential is still cached per person', async () => {
    app.pages.set('/public-but-personal', {
      headers: { etag: '"p"', 'cache-control': 'public, max-age=600' },
      body: (person) => `<h1>Team</h1><p>Signed in as ${person}.</p>`,
    });
    await get(alice, '/apps/docs/public-but-personal');
    expect((await get(bob, '/apps/docs/public-but-personal')).markdown).toContain('Signed in as Bob');
    expect(app.take('/public-but-personal').map((seen) => seen.person)).toEqual(['Alice', 'Bob']);
  });

  test('a public page of an app without per-person credentials is shared, unless it varies on Cookie', async () => {
    app.pages.set('/handbook', {
      headers: { etag: '"h"', 'cache-control': 'public, max-age=600' },
      body: () => '<h1>Handbook</h1><p>The same for everyone.</p>',
    });
    await get(alice, '/apps/public-docs/handbook');
    const forBob = await get(bob, '/apps/public-docs/handbook');
    expect(forBob.cacheStatus).toBe('gatehouse; hit');
    expect(app.take('/handbook')).toHaveLength(1);

    app.pages.set('/by-cookie', {
      headers: { etag: '"c"', 'cache-control': 'public, max-age=600', vary: 'Cookie' },
      body: () => '<h1>Preferences</h1><p>Yours.</p>',
    });
    await get(alice, '/apps/public-docs/by-cookie');
    expect((await get(bob, '/apps/public-docs/by-cookie')).cacheStatus).toBe('gatehouse; fwd=uri-miss; fwd-status=200; stored');
    expect(app.take('/by-cookie')).toHaveLength(2);
  });

  test('no-store is never cached, nor revalidated', async () => {
    app.pages.set('/no-store', {
      headers: { etag: '"n"', 'cache-control': 'no-store' },
      body: () => '<h1>Balance</h1><p>Live figures.</p>',
    });
    const first = await get(alice, '/apps/docs/no-store');
    const second = await get(alice, '/apps/docs/no-store');
    expect(first.cacheStatus).toBe('gatehouse; fwd=uri-miss; fwd-status=200');
    expect(second.cacheStatus).toBe('gatehouse; fwd=uri-miss; fwd-status=200');
    expect(second.markdown).toContain('Live figures.');
    expect(app.take('/no-store').map((seen) => seen.ifNoneMatch)).toEqual([undefined, undefined]);
  });

  test("the agent's own validators, which name the HTML, do not reach the app", async () => {
    app.pages.set('/validators', {
      headers: { etag: '"html-v1"', 'cache-control': 'no-store' },
      body: () => '<h1>Validators</h1><p>Converted.</p>',
    });
    const res = await get(alice, '/apps/docs/validators', { 'if-none-match': '"html-v1"' });
    expect(res.status).toBe(200);
    expect(res.markdown).toContain('Converted.');
    expect(app.take('/validators').map((seen) => seen.ifNoneMatch)).toEqual([undefined]);
  });

  test('a page that is gone is forgotten', async () => {
    app.pages.set('/gone', { headers: { etag: '"g"', 'cache-control': 'no-cache' }, body: () => '<h1>Soon gone</h1><p>Here today.</p>' });
    await get(alice, '/apps/docs/gone');
    app.pages.delete('/gone');
    expect((await get(alice, '/apps/docs/gone')).status).toBe(404);
    app.pages.set('/gone', { headers: { etag: '"g"', 'cache-control': 'no-cache' }, body: () => '<h1>Back</h1><p>Here again.</p>' });
    expect((await get(alice, '/apps/docs/gone')).cacheStatus).toBe('gatehouse; fwd=uri-miss; fwd-status=200; stored');
    expect(app.take('/gone').map((seen) => seen.ifNoneMatch)).toEqual([undefined, '"g"', undefined]);
  });
});
