import { startHandbookSite, type HandbookSite } from '../../examples/handbook-site.js';
import { prefersMarkdown } from '../../portal/apps/accept.js';
import { markdownInterceptor } from '../../portal/apps/markdown-response.js';
import { startTestFront, type TestFront } from '../helpers/http-app-front.js';

describe('markdownInterceptor behind the HTTP-app proxy', () => {
  let site: HandbookSite;
  let front: TestFront;
  let small: TestFront;
  beforeAll(async () => {
    site = await startHandbookSite();
    const negotiate = (maxBytes?: number) => (req: { headers: { accept?: string }; url?: string; originalUrl?: string }) => {
      if (!prefersMarkdown(req.headers.accept)) return {};
      const path = (req.originalUrl ?? '').replace(/^\/apps\/handbook/, '');
      return {
        headers: { accept: 'text/html', 'accept-encoding': 'identity' },
        interceptResponse: markdownInterceptor({
          pageUrl: `${site.url}${path}`,
          linkMap: { upstreamUrl: site.url, appUrl: 'https://gate.example.com/apps/handbook' },
          maxBytes,
        }),
      };
    };
    front = await startTestFront({ upstreamUrl: site.url, mountPath: '/apps/handbook' }, {}, negotiate());
    small = await startTestFront({ upstreamUrl: site.url, mountPath: '/apps/handbook' }, {}, negotiate(100));
  });
  afterAll(async () => {
    await front.close();
    await small.close();
    await site.close();
  });

  test('an agent asking for text/markdown gets the converted page with a token estimate', async () => {
    const res = await fetch(`${front.url}/apps/handbook/policies/expenses`, { headers: { accept: 'text/markdown, text/html;q=0.5' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/markdown; charset=utf-8; variant=gfm');
    expect(res.headers.get('vary')).toContain('Accept');
    const markdown = await res.text();
    expect(markdown).toContain('| Category | Limit | Approval |');
    expect(markdown).toContain('(https://gate.example.com/apps/handbook/policies/time-off)');
    expect(Number(res.headers.get('x-markdown-tokens'))).toBe(Math.ceil(markdown.length / 4));
  });

  test('a browser gets the HTML', async () => {
    const res = await fetch(`${front.url}/apps/handbook/policies/expenses`, { headers: { accept: 'text/html,*/*;q=0.8' } });
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toContain('<table>');
  });

  test('redirects and errors pass through unconverted', async () => {
    const redirect = await fetch(`${front.url}/apps/handbook/old-handbook`, { headers: { accept: 'text/markdown' }, redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/apps/handbook/');
    const missing = await fetch(`${front.url}/apps/handbook/nope`, { headers: { accept: 'text/markdown' } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('text/html');
  });

  test('a page over the bound is answered as the HTML it is, whole', async () => {
    const direct = await (await fetch(`${site.url}/onboarding`)).text();
    const res = await fetch(`${small.url}/apps/handbook/onboarding`, { headers: { accept: 'text/markdown' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('x-markdown-tokens')).toBeNull();
    expect(await res.text()).toBe(direct);
  });
});
