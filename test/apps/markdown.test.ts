import fc from 'fast-check';
import { startHandbookSite, type HandbookSite } from '../../examples/handbook-site.js';
import { STRUCTURED_PAGE, STRUCTURE_CHECKS } from '../../bench/structured-page.js';
import { DEFAULT_MAX_HTML_BYTES, estimateTokens, htmlToMarkdown, type MarkdownPage } from '../../portal/apps/markdown.js';

const APP_URL = 'https://gate.example.com/apps/handbook';

describe('htmlToMarkdown on the handbook pages (served over real HTTP)', () => {
  let site: HandbookSite;
  beforeAll(async () => {
    site = await startHandbookSite();
  });
  afterAll(() => site.close());

  const convert = async (path: string): Promise<MarkdownPage> => {
    const html = await (await fetch(`${site.url}${path}`)).text();
    const result = htmlToMarkdown(html, { pageUrl: `${site.url}${path}`, linkMap: { upstreamUrl: site.url, appUrl: APP_URL } });
    if (!result.ok) throw new Error('unexpected too_large');
    return result;
  };

  test('keeps the main content and drops navigation, footer, scripts and styles', async () => {
    const page = await convert('/');
    expect(page.markdown.startsWith('# Acme Handbook\n')).toBe(true);
    expect(page.markdown).toContain('## Where to start');
    expect(page.markdown).toContain('single place where we write down how we work');
    for (const chrome of [
      'Internal use only',
      'Contact the people team',
      'window.analytics',
      'font-family',
      'tracking.js',
      'Preferences',
    ]) {
      expect(page.markdown).not.toContain(chrome);
    }
  });

  test('keeps the table as a GFM table', async () => {
    const page = await convert('/policies/expenses');
    expect(page.markdown).toContain('| Category | Limit | Approval |');
    expect(page.markdown).toContain('| --- | --- | --- |');
    expect(page.markdown).toContain('| Home office equipment | €500 per year | Manager |');
  });

  test('makes relative, dot-relative and root-relative links and images absolute under the app URL', async () => {
    const expenses = await convert('/policies/expenses');
    expect(expenses.markdown).toContain(`[time off](${APP_URL}/policies/time-off)`);
    expect(expenses.markdown).toContain(`[your first week](${APP_URL}/onboarding)`);
    const onboarding = await convert('/onboarding');
    expect(onboarding.markdown).toContain(`[equipment allowance](${APP_URL}/policies/expenses#equipment)`);
    expect(onboarding.markdown).toContain(`![The Acme team at the summer offsite](${APP_URL}/static/team-photo.svg)`);
    expect(onboarding.markdown).toContain(`[handbook home](${APP_URL}/)`);
    expect(onboarding.markdown).not.toMatch(/\]\((?!https:\/\/gate\.example\.com\/apps\/handbook\/)/);
  });

  test('estimates tokens as characters / 4', async () => {
    const page = await convert('/policies/time-off');
    expect(page.tokens).toBe(Math.ceil(page.markdown.length / 4));
    expect(page.title).toBe('Time off');
  });
});

describe('htmlToMarkdown keeps the structures of a documentation page', () => {
  const page = htmlToMarkdown(STRUCTURED_PAGE, {
    pageUrl: 'http://docs.internal/guides/deploy',
    linkMap: { upstreamUrl: 'http://docs.internal', appUrl: 'https://gate.example.com/apps/docs' },
  }) as MarkdownPage;

  test.each(STRUCTURE_CHECKS.map((check) => [check.name, check]))('%s', (_name, check) => {
    expect(check.kept(page.markdown)).toBe(true);
  });

  test('the contents list inside <main>, the byline, the aside, code languages and the definition list, as Markdown text', () => {
    expect(page.markdown).toContain('1. [Requirements](https://gate.example.com/apps/docs/guides/deploy#requirements)');
    expect(page.markdown).toContain('By [Ada Lovelace](https://gate.example.com/apps/docs/people/ada) · 30 November 2026');
    expect(page.markdown).toContain('**Note:** back up the database before every upgrade; migrations are not reversible.');
    expect(page.markdown).toContain('| PostgreSQL | 16 | 4 GiB |');
    expect(page.markdown).toContain('```yaml\ndatabase:\n');
    expect(page.markdown).toContain('```typescript\n');
    expect(page.markdown).toMatch(/<dt>Entry<\/dt>\s*<dd>One movement of money between two accounts\.<\/dd>/);
    expect(page.title).toBe('Deploying the ledger');
  });
});

describe('htmlToMarkdown edge cases', () => {
  test('without linkMap, links resolve against the page URL and <base href>', () => {
    const result = htmlToMarkdown(
      '<html><head><base href="/docs/"></head><body><article><h1>T</h1><p><a href="a">A</a> <a href="../b">B</a> <a href="https://other.example/x">X</a></p></article></body></html>',
      {
        pageUrl: 'http://wiki.example/index',
      },
    ) as MarkdownPage;
    expect(result.markdown).toContain('[A](http://wiki.example/docs/a)');
    expect(result.markdown).toContain('[B](http://wiki.example/b)');
    expect(result.markdown).toContain('[X](https://other.example/x)');
  });

  test('javascript: and data: links become plain text', () => {
    const result = htmlToMarkdown(
      '<main><h1>T</h1><p><a href="javascript:alert(1)">Click</a> and <a href="data:text/html,x">data</a>.</p></main>',
      { pageUrl: 'http://wiki.example/' },
    ) as MarkdownPage;
    expect(result.markdown).toContain('Click and data.');
    expect(result.markdown).not.toContain('javascript:');
  });

  test('a page with almost no content still converts, without its chrome', () => {
    const result = htmlToMarkdown('<body><nav><a href="/">Home</a></nav><p>Short note.</p><footer>© Corp</footer></body>', {
      pageUrl: 'http://wiki.example/',
    });
    expect(result.ok).toBe(true);
    const markdown = (result as MarkdownPage).markdown;
    expect(markdown).toContain('Short note.');
    expect(markdown).not.toContain('© Corp');
  });

  test('a <main> that scripts fill (next to nothing in it) is not taken for the content', () => {
    const prose = 'The quarterly report is due on the tenth. '.repeat(8);
    const result = htmlToMarkdown(
      `<body><nav><a href="/">Home</a></nav><main id="app"><p>Loading…</p></main><div class="content"><h1>Reports</h1><p>${prose}</p></div><footer>© Corp</footer></body>`,
      { pageUrl: 'http://wiki.example/' },
    ) as MarkdownPage;
    expect(result.markdown).toContain('The quarterly report is due on the tenth.');
    expect(result.markdown).not.toMatch(/Home|© Corp/);
  });

  test('a page wrapped in one <form> keeps its content; form controls are dropped', () => {
    const result = htmlToMarkdown(
      '<body><form action="/postback"><h1>Orders</h1><p>Open orders are listed below.</p><input value="secret"><button>Refresh</button></form></body>',
      { pageUrl: 'http://erp.example/' },
    ) as MarkdownPage;
    expect(result.markdown).toContain('Open orders are listed below.');
    expect(result.markdown).not.toMatch(/secret|Refresh/);
  });

  test('without an <h1>, the <title> becomes the heading; a "# comment" in a code block is no heading', () => {
    const result = htmlToMarkdown(
      '<html><head><title>Deploy &amp; run</title></head><body><main><pre><code class="language-sh"># install it\nmake install\n</code></pre></main></body></html>',
      { pageUrl: 'http://wiki.example/' },
    ) as MarkdownPage;
    expect(result.title).toBe('Deploy & run');
    expect(result.markdown.startsWith('# Deploy & run\n\n```sh\n# install it\n')).toBe(true);
  });

  test('an image inside a link: both targets are made absolute', () => {
    const result = htmlToMarkdown(
      '<main><h1>T</h1><p><a href="/full.png"><img src="thumb.png" alt="Chart"></a> <a href="x (1).html">odd</a></p><p><code>[not](a-link)</code></p></main>',
      { pageUrl: 'http://wiki.example/docs/' },
    ) as MarkdownPage;
    expect(result.markdown).toContain('[![Chart](http://wiki.example/docs/thumb.png)](http://wiki.example/full.png)');
    expect(result.markdown).toContain('[odd](<http://wiki.example/docs/x%20(1).html>)');
    expect(result.markdown).toContain('`[not](a-link)`');
  });

  test('broken HTML and empty input never throw', () => {
    expect(htmlToMarkdown('<div><p>unclosed <b>bold <table><tr><td>cell', { pageUrl: 'http://wiki.example/' }).ok).toBe(true);
    expect(htmlToMarkdown('', { pageUrl: 'http://wiki.example/' }).ok).toBe(true);
    expect(htmlToMarkdown(Buffer.from('<p>bytes</p>'), { pageUrl: 'http://wiki.example/' }).ok).toBe(true);
  });

  test('a page far over the bound is refused before parsing with a typed result', () => {
    const huge = `<html><body>${'<p>filler paragraph</p>'.repeat(200_000)}</body></html>`;
    expect(Buffer.byteLength(huge)).toBeGreaterThan(DEFAULT_MAX_HTML_BYTES);
    expect(htmlToMarkdown(huge, { pageUrl: 'http://wiki.example/' })).toEqual({
      ok: false,
      reason: 'too_large',
      sizeBytes: Buffer.byteLength(huge),
      maxBytes: DEFAULT_MAX_HTML_BYTES,
    });
  });

  test('the bound counts bytes, not characters', () => {
    const result = htmlToMarkdown(`<p>${'€'.repeat(400)}</p>`, { pageUrl: 'http://wiki.example/', maxBytes: 1000 });
    expect(result).toMatchObject({ ok: false, reason: 'too_large', maxBytes: 1000 });
  });

  test('estimateTokens', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
  });

  test('whatever the markup, conversion never throws and every link left points somewhere an agent can go', () => {
    const tags = [
      'main',
      'article',
      'nav',
      'aside',
      'table',
      'tr',
      'td',
      'pre',
      'code',
      'a',
      'img',
      'dl',
      'dt',
      'dd',
      'ul',
      'li',
      'p',
      'b',
      'h1',
      'script',
      'svg',
      'template',
      'base',
      'title',
    ];
    const attribute = fc.constantFrom(
      '',
      ' href="x (1)"',
      ' href="javascript:alert(1)"',
      ' href="data:text/html,x"',
      ' src="../a.png" alt="[x]"',
      ' href="//other.example/p"',
      ' class="language-js"',
      ' role="main"',
    );
    const piece = fc.oneof(
      fc.string(),
      fc
        .tuple(fc.constantFrom(...tags), attribute, fc.boolean())
        .map(([tag, attributes, opening]) => (opening ? `<${tag}${attributes}>` : `</${tag}>`)),
      fc.constantFrom('`', '```', '[', ']', '(', ')', '\\', '&amp;', '&#0;', '<!--', '-->', '\u0000'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const result = htmlToMarkdown(pieces.join(''), {
          pageUrl: 'http://wiki.example/docs/',
          linkMap: { upstreamUrl: 'http://wiki.example', appUrl: 'https://gate.example.com/apps/wiki' },
        });
        if (!result.ok) return false;
        const prose = result.markdown.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?\n\1[^\n]*$/gm, '').replace(/(`+)[^`]+?\1/g, '');
        const targets = [...prose.matchAll(/(?<!\\)\[[^\]\n]*\]\((<[^<>\n]*>|[^\s()<>]*)/g)].map((match) =>
          match[1]!.replace(/^<|>$/g, ''),
        );
        return targets.every((target) => /^(https?:\/\/|mailto:|tel:)/.test(target));
      }),
      { numRuns: 500 },
    );
  });
});
