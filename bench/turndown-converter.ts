import { Readability } from '@mozilla/readability';
import gfm from '@joplin/turndown-plugin-gfm';
import { parseHTML } from 'linkedom';
import TurndownService from 'turndown';
import { DEFAULT_MAX_HTML_BYTES, estimateTokens, type HtmlToMarkdownOptions, type MarkdownResult } from '../portal/apps/markdown.js';

/**
 * The portal's converter before mdream, kept for the benchmark's comparison: Readability (when the
 * page marks no main content) and turndown with the GFM plugin, on linkedom's DOM. Inside a marked
 * `<main>` it dropped `nav` and `aside`, and with them the page's own table of contents and notes.
 */
/** Elements that are never content, removed before Readability scores the page. */
const NEVER_CONTENT =
  'title, script, style, noscript, template, iframe, object, embed, link, meta, svg, canvas, form, button, input, select, textarea';
/** Page chrome, removed when Readability finds no article and we fall back to the whole body. */
const CHROME = 'nav, header, footer, aside, [role=navigation], [role=banner], [role=contentinfo], [aria-hidden=true]';

/**
 * Converts an HTML page to Markdown for an agent: the main content only (Readability; navigation,
 * scripts, styles, headers and footers gone), GitHub-flavoured Markdown with tables kept, and
 * every link and image made absolute against `pageUrl` (honouring `<base href>`), so an agent can
 * follow them without knowing where the page came from.
 *
 * Never throws for bad HTML: the parser is lenient, and input over `maxBytes` is refused before
 * parsing with `{ ok: false, reason: 'too_large' }`.
 */
export function turndownToMarkdown(html: string | Buffer, options: HtmlToMarkdownOptions): MarkdownResult {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_HTML_BYTES;
  const sizeBytes = typeof html === 'string' ? Buffer.byteLength(html) : html.length;
  if (sizeBytes > maxBytes) return { ok: false, reason: 'too_large', sizeBytes, maxBytes };
  const { document } = parseHTML(withBody(typeof html === 'string' ? html : html.toString('utf8')));
  // The page's own <h1> names the content better than <title>, which usually carries the site name.
  const heading = document.querySelector('h1')?.textContent?.trim() || undefined;
  const pageTitle = heading ?? (document.querySelector('title')?.textContent?.trim() || undefined);
  for (const element of [...document.querySelectorAll(NEVER_CONTENT)]) element.remove();
  absolutizeLinks(document, options.pageUrl, options.linkMap);

  // A page that marks its main content (one <main>, or one <article>) says where it is: use it and
  // skip Readability, which costs as much as the rest of the conversion together.
  const marked = markedMainContent(document);
  let content: string;
  let articleTitle: string | undefined;
  if (marked) {
    for (const element of [...marked.querySelectorAll(CHROME)]) element.remove();
    content = marked.innerHTML;
  } else {
    // Readability works on (and changes) the document; keep a copy of the body for the fallback.
    const fallback = document.body?.cloneNode(true) as typeof document.body | undefined;
    // linkedom's document is not typed as the DOM's (this project compiles without lib.dom).
    const article = new Readability(document as unknown as ConstructorParameters<typeof Readability>[0], { charThreshold: 200 }).parse();
    content = article?.content ?? '';
    articleTitle = article?.title?.trim() || undefined;
    if (!article?.textContent?.trim() && fallback) {
      for (const element of [...fallback.querySelectorAll(CHROME)]) element.remove();
      content = fallback.innerHTML;
    }
  }
  const title = pageTitle ?? articleTitle;
  let markdown = createTurndown()
    .turndown(content || '<p></p>')
    .trim();
  // Readability takes the page's <h1> as the title when they match; give it back as a heading.
  if (title && !markdown.startsWith('# ')) markdown = `# ${title}\n\n${markdown}`;
  markdown += '\n';
  return { ok: true, markdown, title, tokens: estimateTokens(markdown) };
}

/** The page's own main content, when it marks exactly one `<main>` (or else one `<article>`) with some text in it. */
function markedMainContent(document: ReturnType<typeof parseHTML>['document']) {
  for (const selector of ['main', 'article']) {
    const found = [...document.querySelectorAll(selector)];
    if (found.length === 1 && (found[0]!.textContent ?? '').trim().length >= 200) return found[0]!;
  }
  return undefined;
}

/**
 * linkedom does not infer the implied `<html>`/`<body>` of HTML5 (§13.2.6.4): content outside an
 * explicit `<body>` would be lost, so wrap fragments and body-less pages in one.
 */
function withBody(html: string): string {
  if (/<body[\s>]/i.test(html)) return /<html[\s>]/i.test(html) ? html : `<html>${html}</html>`;
  const inner = html.replace(/<!doctype[^>]*>/i, '').replace(/<\/?html[^>]*>/gi, '');
  const headEnd = inner.search(/<\/head\s*>/i);
  if (headEnd === -1) return `<!doctype html><html><head></head><body>${inner}</body></html>`;
  const bodyStart = inner.indexOf('>', headEnd) + 1;
  return `<!doctype html><html>${inner.slice(0, bodyStart)}<body>${inner.slice(bodyStart)}</body></html>`;
}

function absolutizeLinks(
  document: ReturnType<typeof parseHTML>['document'],
  pageUrl: string,
  linkMap: HtmlToMarkdownOptions['linkMap'],
): void {
  const base = resolve(document.querySelector('base[href]')?.getAttribute('href') ?? '', pageUrl) ?? pageUrl;
  for (const [selector, attribute] of [
    ['a[href]', 'href'],
    ['img[src]', 'src'],
  ] as const) {
    for (const element of [...document.querySelectorAll(selector)]) {
      const absolute = resolve(element.getAttribute(attribute) ?? '', base);
      // A javascript: or data: "link" is behaviour, not a place an agent can go.
      if (!absolute || !/^(https?|mailto|tel):/i.test(absolute)) element.removeAttribute(attribute);
      else element.setAttribute(attribute, linkMap ? mapLink(absolute, linkMap) : absolute);
    }
  }
  for (const element of [...document.querySelectorAll('img[srcset], source[srcset]')]) element.removeAttribute('srcset');
}

/** `absolute` moved from under the upstream URL to under the app URL; anything else as it is. */
function mapLink(absolute: string, linkMap: NonNullable<HtmlToMarkdownOptions['linkMap']>): string {
  const from = new URL(linkMap.upstreamUrl);
  const url = new URL(absolute);
  const base = from.pathname.replace(/\/+$/, '');
  if (url.origin !== from.origin || (base && url.pathname !== base && !url.pathname.startsWith(`${base}/`))) return absolute;
  return `${linkMap.appUrl.replace(/\/+$/, '')}${url.pathname.slice(base.length) || '/'}${url.search}${url.hash}`;
}

function resolve(reference: string, base: string): string | undefined {
  try {
    return new URL(reference.trim(), base).href;
  } catch {
    return undefined;
  }
}

function createTurndown(): TurndownService {
  const service = new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced', bulletListMarker: '-', emDelimiter: '_' });
  service.use(gfm.gfm);
  // An <a> without href (removed above) is plain text, not an empty []() link.
  service.addRule('linkWithoutHref', {
    filter: (node) => node.nodeName === 'A' && !node.getAttribute('href'),
    replacement: (content) => content,
  });
  return service;
}
