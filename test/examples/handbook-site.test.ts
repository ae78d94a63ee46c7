import { HANDBOOK_COOKIE, startHandbookSite, type HandbookSite } from '../../examples/handbook-site.js';
import { htmlToMarkdown, type MarkdownPage } from '../../portal/apps/markdown.js';
import { startTestFront, type TestFront } from '../helpers/http-app-front.js';

describe('examples/handbook-site', () => {
  let site: HandbookSite;
  beforeAll(async () => {
    site = await startHandbookSite();
  });
  afterAll(() => site.close());

  test('listens on 127.0.0.1 and a free port by default', () => {
    expect(site.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test.each(['/', '/onboarding', '/policies/expenses', '/policies/time-off', '/preferences', '/contact'])(
    '%s is an HTML page with nav and footer',
    async (path) => {
      const res = await fetch(`${site.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const html = await res.text();
      expect(html).toContain('<nav');
      expect(html).toContain('<footer');
    },
  );

  test('/old-handbook redirects home', async () => {
    const res = await fetch(`${site.url}/old-handbook`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/');
  });

  test('/preferences sets a cookie, and a form POST changes it', async () => {
    const first = await fetch(`${site.url}/preferences`);
    expect(first.headers.getSetCookie()).toEqual([`${HANDBOOK_COOKIE}=light; Path=/; HttpOnly; SameSite=Lax`]);
    const saved = await fetch(`${site.url}/preferences`, {
      method: 'POST',
      body: new URLSearchParams({ theme: 'dark' }),
      redirect: 'manual',
    });
    expect(saved.status).toBe(303);
    expect(saved.headers.getSetCookie()[0]).toContain(`${HANDBOOK_COOKIE}=dark`);
    const again = await fetch(`${site.url}/preferences`, { headers: { cookie: `${HANDBOOK_COOKIE}=dark` } });
    expect(await again.text()).toContain('<strong>dark</strong>');
  });

  test('unknown pages are 404', async () => {
    expect((await fetch(`${site.url}/nope`)).status).toBe(404);
  });

  describe('behind the HTTP-app proxy at /apps/handbook', () => {
    let front: TestFront;
    beforeAll(async () => {
      front = await startTestFront({ upstreamUrl: site.url, mountPath: '/apps/handbook' });
    });
    afterAll(() => front.close());

    test('the redirect stays under the mount', async () => {
      const res = await fetch(`${front.url}/apps/handbook/old-handbook`, { redirect: 'manual' });
      expect(res.status).toBe(301);
      expect(res.headers.get('location')).toBe('/apps/handbook/');
    });

    test('the cookie is scoped to the mount', async () => {
      const res = await fetch(`${front.url}/apps/handbook/preferences`);
      expect(res.headers.getSetCookie()).toEqual([`${HANDBOOK_COOKIE}=light; Path=/apps/handbook; HttpOnly; SameSite=Lax`]);
    });

    test('every link, stylesheet, script and picture of every page works under the mount', async () => {
      const seen = new Set<string>();
      const queue = [`${front.url}/apps/handbook/`];
      while (queue.length) {
        const url = queue.shift()!;
        if (seen.has(url)) continue;
        seen.add(url);
        const res = await fetch(url);
        expect([url, res.status]).toEqual([url, 200]);
        if (!res.headers.get('content-type')?.startsWith('text/html')) continue;
        for (const [, link] of (await res.text()).matchAll(/(?:href|src)="([^"#]*)/g)) {
          const next = new URL(link!, url);
          expect(next.pathname.startsWith('/apps/handbook/')).toBe(true);
          queue.push(next.href);
        }
      }
      const paths = [...seen].map((u) => new URL(u).pathname);
      expect(paths).toEqual(
        expect.arrayContaining([
          '/apps/handbook/policies/time-off',
          '/apps/handbook/contact',
          '/apps/handbook/static/handbook.css',
          '/apps/handbook/static/team-photo.svg',
          '/apps/handbook/static/tracking.js',
        ]),
      );
    });

    test('a proxied page converts to Markdown with links under the portal', async () => {
      const pageUrl = `${front.url}/apps/handbook/policies/expenses`;
      const html = await (await fetch(pageUrl)).text();
      const page = htmlToMarkdown(html, {
        pageUrl: `${site.url}/policies/expenses`,
        linkMap: { upstreamUrl: site.url, appUrl: `${front.url}/apps/handbook` },
      }) as MarkdownPage;
      expect(page.markdown).toContain('| Meals while travelling | €60 per day | None |');
      expect(page.markdown).toContain(`[time off](${front.url}/apps/handbook/policies/time-off)`);
      expect(page.markdown).not.toContain('Internal use only');
    });
  });
});
