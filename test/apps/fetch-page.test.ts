import { startHandbookSite, type HandbookSite } from '../../examples/handbook-site.js';
import { fetchAppPage, type FetchAppPageDeps } from '../../portal/apps/fetch-page.js';
import { createMarkdownCache } from '../../portal/apps/markdown-cache.js';
import type { HttpError } from '../../portal/http/errors.js';
import type { AuthContext } from '../../portal/oauth/bearer.js';
import { startHugeHtmlApp, type HugeHtmlApp } from '../helpers/html-app.js';
import { startTestUpstream, type Echo, type TestUpstream } from '../helpers/http-app-upstream.js';
import { startPagesApp, type PagesApp } from '../helpers/pages-app.js';
import { startTestPortal, type TestPortal } from '../helpers/portal.js';

describe('fetchAppPage: an app page for the MCP aggregate, by the proxy rules', () => {
  let portal: TestPortal;
  let wiki: TestUpstream;
  let handbook: HandbookSite;
  let huge: HugeHtmlApp;
  let pages: PagesApp;
  let deps: FetchAppPageDeps;
  const upstream = (id: string) => portal.config.upstreams.find((u) => u.id === id)!;
  const auth = (upstreamIds = ['wiki', 'handbook', 'huge', 'secret'], groups = ['eng']): AuthContext => ({
    person: { id: 'local:alice', idp: 'local', username: 'alice', email: 'alice@example.com', emailVerified: true, groups },
    clientId: 'agent-1',
    grantId: `grant-${groups.join()}`,
    scope: ['mcp'],
    resource: `${portal.url}/mcp`,
    upstreamIds,
    expiresAt: Math.floor(Date.now() / 1000) + 600,
  });
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: HttpError) => ({ status: error.status, code: error.code }),
    );

  beforeAll(async () => {
    [wiki, handbook, huge, pages] = await Promise.all([
      startTestUpstream(),
      startHandbookSite(),
      startHugeHtmlApp(3 * 1024 * 1024),
      startPagesApp(),
    ]);
    portal = await startTestPortal({
      document: {
        upstreams: [
          { id: 'wiki', kind: 'http', url: wiki.url, call_timeout: '300ms' },
          { id: 'handbook', kind: 'http', url: handbook.url },
          { id: 'huge', kind: 'http', url: huge.url },
          { id: 'secret', kind: 'http', url: wiki.url, access: { groups: ['eng'] } },
          { id: 'pages', kind: 'http', url: pages.url },
        ],
      },
    });
    deps = { issuer: portal.url, credentials: portal.credentials, markdownCache: createMarkdownCache() };
  });
  afterAll(async () => {
    await portal.close();
    await Promise.all([wiki.close(), handbook.close(), huge.close(), pages.close()]);
  });

  test('Markdown by default: main content, tables kept, links onto the portal', async () => {
    const page = await fetchAppPage(deps, upstream('handbook'), '/policies/expenses', { auth: auth() });
    expect(page).toMatchObject({
      status: 200,
      contentType: expect.stringMatching(/^text\/markdown; charset=utf-8/),
      url: `${portal.url}/apps/handbook/policies/expenses`,
    });
    expect(page.body).toMatch(/^# /);
    expect(page.body).toMatch(/\|.*\|/);
    expect(page.tokens).toBeGreaterThan(0);
    expect(page.body).not.toContain(handbook.url);
  });

  test('same-app redirects are followed; html format is the page as served', async () => {
    const page = await fetchAppPage(deps, upstream('handbook'), '/old-handbook', { auth: auth(), format: 'html' });
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${portal.url}/apps/handbook/`);
    expect(page.contentType).toMatch(/^text\/html/);
    expect(page.body).toContain('<nav');
  });

  test('identity goes as the assertion, nothing of the caller else', async () => {
    const page = await fetchAppPage(deps, upstream('wiki'), '/echo?q=two words', { auth: auth(), format: 'html' });
    const echo = JSON.parse(page.body) as Echo;
    expect(echo.url).toBe('/echo?q=two%20words');
    expect(echo.headers['gatehouse-assertion']).toBeTruthy();
    expect(echo.headers.authorization).toBeUndefined();
  });

  test('bad input and failures are HttpErrors: traversal 400, policy 403, size 413, timeout 504', async () => {
    expect(await failure(fetchAppPage(deps, upstream('wiki'), '/a/../../admin', { auth: auth() }))).toEqual({
      status: 400,
      code: 'invalid_request',
    });
    const before = wiki.seen.length;
    for (const path of [
      '/%2e%2e/admin',
      '/..;/admin',
      '/%2e%2e%3b/admin',
      '/%252e%252e/admin',
      '/%u002e%u002e/admin',
      '/a\\..\\..\\admin',
      '/%c0%ae%c0%ae/admin',
      '/é/%2e%2e%3b/admin',
    ]) {
      expect({ path, failure: await failure(fetchAppPage(deps, upstream('wiki'), path, { auth: auth() })) }).toEqual({
        path,
        failure: { status: 400, code: 'invalid_request' },
      });
    }
    expect(wiki.seen.length).toBe(before);
    expect(await failure(fetchAppPage(deps, upstream('wiki'), '/page', { auth: auth(['handbook']) }))).toEqual({
      status: 403,
      code: 'access_denied',
    });
    expect(await failure(fetchAppPage(deps, upstream('secret'), '/page', { auth: auth(undefined, ['sales']) }))).toEqual({
      status: 403,
      code: 'access_denied',
    });
    expect(await failure(fetchAppPage(deps, upstream('huge'), '/huge', { auth: auth() }))).toEqual({ status: 413, code: 'page_too_large' });
    expect(await failure(fetchAppPage(deps, upstream('wiki'), '/hang', { auth: auth() }))).toEqual({
      status: 504,
      code: 'gateway_timeout',
    });
    expect(await failure(fetchAppPage(deps, upstream('wiki'), '/large', { auth: auth() }))).toEqual({
      status: 413,
      code: 'page_too_large',
    });
  });

  test("conversions are cached by the page's validators: a 304 reuses the Markdown, a new ETag brings a new one, fresh pages are not fetched again", async () => {
    const ids = ['pages'];
    pages.pages.set('/notes', { headers: { etag: '"1"', 'cache-control': 'no-cache' }, body: () => '<h1>Notes</h1><p>First notes.</p>' });
    const first = await fetchAppPage(deps, upstream('pages'), '/notes', { auth: auth(ids) });
    const second = await fetchAppPage(deps, upstream('pages'), '/notes', { auth: auth(ids) });
    expect(second).toEqual(first);
    pages.pages.set('/notes', { headers: { etag: '"2"', 'cache-control': 'no-cache' }, body: () => '<h1>Notes</h1><p>Second notes.</p>' });
    expect((await fetchAppPage(deps, upstream('pages'), '/notes', { auth: auth(ids) })).body).toContain('Second notes.');
    expect(pages.take('/notes').map((seen) => seen.ifNoneMatch)).toEqual([undefined, '"1"', '"1"']);

    pages.pages.set('/mine', {
      headers: { etag: '"m"', 'cache-control': 'private, max-age=600' },
      body: (person) => `<h1>Mine</h1><p>For ${person}.</p>`,
    });
    await fetchAppPage(deps, upstream('pages'), '/mine', { auth: auth(ids) });
    await fetchAppPage(deps, upstream('pages'), '/mine', { auth: auth(ids) });
    expect(pages.take('/mine')).toHaveLength(1);
    const other = { ...auth(ids), person: { ...auth(ids).person, id: 'local:bob', username: 'bob' } };
    await fetchAppPage(deps, upstream('pages'), '/mine', { auth: other });
    expect(pages.take('/mine')).toHaveLength(1);
  });
});
