import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { htmlToMarkdownResult, initSync } from 'mdream/wasm';

/** Default bound on the HTML we convert: 2 MiB. Conversion is in-memory, so the bound is what keeps it cheap. */
export const DEFAULT_MAX_HTML_BYTES = 2 * 1024 * 1024;

/**
 * Elements that are never content, wherever they are, besides those mdream drops itself (`script`,
 * `style`, `noscript`, `template`, `iframe`, `input`). `<form>` is not one: whole pages of some
 * frameworks sit in one.
 */
const NEVER_CONTENT = ['title', 'object', 'svg', 'canvas', 'button', 'select', 'textarea'];
/** Page chrome, dropped when the page does not mark its main content (inside marked content, a table of contents or an aside is the page's own). */
const CHROME = [
  'nav',
  'header',
  'footer',
  'aside',
  '[role=navigation]',
  '[role=banner]',
  '[role=contentinfo]',
  '[role=complementary]',
  '[role=dialog]',
  '[aria-hidden=true]',
];
/** Less Markdown than this from the marked main content, and the page is converted without its chrome instead, if that gives more. */
const MIN_MAIN_CONTENT_CHARS = 200;
/** Link targets an agent can follow; `javascript:` and `data:` "links" are behaviour, not places. */
const FOLLOWABLE = /^(https?|mailto|tel):$/;

/** A converted page. */
export interface MarkdownPage {
  ok: true;
  markdown: string;
  title: string | undefined;
  /**
   * Rough token count for the `x-markdown-tokens` header: characters / 4, rounded up. It is an
   * estimate (a common rule of thumb for English text and BPE tokenizers), not any model's count.
   */
  tokens: number;
}

/** The page was over the bound and was not parsed; answer with the HTML as it is, or 413. */
export interface MarkdownTooLarge {
  ok: false;
  reason: 'too_large';
  sizeBytes: number;
  maxBytes: number;
}

export type MarkdownResult = MarkdownPage | MarkdownTooLarge;

/** Options of {@link htmlToMarkdown}. */
export interface HtmlToMarkdownOptions {
  /** The URL the HTML was served from: relative links and images resolve against it (and `<base href>`). */
  pageUrl: string;
  /**
   * Moves resolved links from the upstream onto the portal: a URL under `upstreamUrl` (origin and
   * base path) becomes the same path under `appUrl` (`https://gate.example.com/apps/wiki`). This
   * also fixes root-relative links (`/policies`), which a path-routed app writes for its own root.
   */
  linkMap?: { upstreamUrl: string; appUrl: string };
  /** Larger input is refused with a {@link MarkdownTooLarge} result. Default {@link DEFAULT_MAX_HTML_BYTES}. */
  maxBytes?: number;
}

/**
 * Converts an HTML page to Markdown for an agent (GitHub-flavoured: tables, fenced code blocks
 * with their language), with mdream's WebAssembly engine — the same converter on every platform
 * and Node version, no DOM built.
 *
 * Main content: a page that marks it (one `<main>`, else one `role="main"`, else one `<article>`)
 * is converted whole inside that element — its own table of contents, byline and asides stay;
 * any other page, or one whose marked element holds next to nothing, is converted without its
 * chrome (navigation, header, footer, asides, dialogs).
 * Scripts, styles and form controls never appear. Every link and image is made absolute against
 * `pageUrl` (honouring `<base href>`) and moved onto the portal by `linkMap`; `javascript:` and
 * `data:` targets become plain text.
 *
 * Never throws for bad HTML: the parser is lenient, and input over `maxBytes` is refused before
 * parsing with `{ ok: false, reason: 'too_large' }`.
 */
export function htmlToMarkdown(html: string | Buffer, options: HtmlToMarkdownOptions): MarkdownResult {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_HTML_BYTES;
  const sizeBytes = typeof html === 'string' ? Buffer.byteLength(html) : html.length;
  if (sizeBytes > maxBytes) return { ok: false, reason: 'too_large', sizeBytes, maxBytes };
  const text = typeof html === 'string' ? html : html.toString('utf8');
  const convert = (filter: { include?: string[]; exclude: string[] }) =>
    (loadConverter()(text, { plugins: { filter } }).markdown ?? '').trim();
  const withoutChrome = () => convert({ exclude: [...NEVER_CONTENT, ...CHROME] });
  const main = markedMainContent(text);
  let converted = main ? convert({ include: [main], exclude: NEVER_CONTENT }) : withoutChrome();
  // A marked element with next to nothing in it (an app shell that scripts fill) is not the content.
  if (main && converted.length < MIN_MAIN_CONTENT_CHARS) {
    const whole = withoutChrome();
    if (whole.length > converted.length) converted = whole;
  }
  const base =
    resolve(
      decodeEntities(
        BASE_HREF.exec(text)
          ?.slice(1)
          .find((value) => value !== undefined) ?? '',
      ),
      options.pageUrl,
    ) ?? options.pageUrl;
  let markdown = rewriteLinks(converted, linkTargets(base, options.linkMap));
  // The page's own <h1> names the content better than <title>, which usually carries the site name.
  const heading = /^# (.+)$/m.exec(markdown.replace(FENCED_CODE, ''))?.[1]?.trim();
  const title =
    heading ||
    decodeEntities(TITLE.exec(text)?.[1] ?? '')
      .replace(/\s+/g, ' ')
      .trim() ||
    undefined;
  if (title && !heading) markdown = markdown ? `# ${title}\n\n${markdown}` : `# ${title}`;
  markdown += '\n';
  return { ok: true, markdown, title, tokens: estimateTokens(markdown) };
}

/** The `x-markdown-tokens` estimate: characters / 4, rounded up (a rule of thumb, not a tokenizer). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

const FENCED_CODE = /^(`{3,}|~{3,})[^\n]*\n[\s\S]*?\n\1[^\n]*$/gm;
const TITLE = /<title[^>]*>([\s\S]*?)<\/title\s*>/i;
const BASE_HREF = /<base\s[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i;

/** The selector of the page's main content when it marks exactly one (a cheap scan, no DOM). */
function markedMainContent(html: string): string | undefined {
  if (count(html, /<main[\s>]/gi) === 1) return 'main';
  if (count(html, /\srole\s*=\s*["']?main["'\s>]/gi) === 1) return '[role=main]';
  if (count(html, /<article[\s>]/gi) === 1) return 'article';
  return undefined;
}

function count(text: string, pattern: RegExp): number {
  let found = 0;
  while (pattern.exec(text) && found < 2) found++;
  pattern.lastIndex = 0;
  return found;
}

type Convert = typeof htmlToMarkdownResult;
let converter: Convert | undefined;

/** mdream's WebAssembly engine, instantiated on first use (its native engine needs Node 22 and a prebuilt binary per platform). */
function loadConverter(): Convert {
  if (!converter) {
    initSync({ module: readFileSync(createRequire(import.meta.url).resolve('mdream/wasm/mdream_edge_bg.wasm')) });
    converter = htmlToMarkdownResult;
  }
  return converter;
}

/** A Markdown code span (left as it is), or a link or image: `[text](target "title")`, the target bare or in `<…>` as the converter writes it. */
const SPAN_OR_LINK =
  /(`+)[^`]+?\1|(!?)\[((?:\\.|[^\\[\]]|\[(?:\\.|[^\\[\]])*\])*)\]\((<[^<>\n]*>|[^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)((?:\s+"(?:\\.|[^"\\])*")?)\)/g;

/**
 * Every link and image target of `markdown` through `map`, outside code; a target `map` refuses
 * (`undefined`) leaves the link's text, or the image's alternative text, as plain text.
 */
function rewriteLinks(markdown: string, map: (target: string) => string | undefined): string {
  let out = '';
  let last = 0;
  for (const fence of markdown.matchAll(FENCED_CODE)) {
    out += rewriteInline(markdown.slice(last, fence.index), map) + fence[0];
    last = fence.index + fence[0].length;
  }
  return out + rewriteInline(markdown.slice(last), map);
}

function rewriteInline(markdown: string, map: (target: string) => string | undefined): string {
  return markdown.replace(
    SPAN_OR_LINK,
    (match, _ticks, bang: string | undefined, text: string | undefined, target: string | undefined, title: string | undefined) => {
      if (target === undefined || text === undefined) return match;
      const label = bang ? text : rewriteInline(text, map);
      const mapped = map(target.startsWith('<') ? target.slice(1, -1) : target);
      if (mapped === undefined) return label;
      return `${bang}[${label}](${/[\s()<>]/.test(mapped) ? `<${mapped}>` : mapped}${title ?? ''})`;
    },
  );
}

/**
 * Where a link of the page leads: absolute against `base`, moved onto the portal by `linkMap`
 * (a URL under the upstream URL — origin and base path — becomes the same path under the app
 * URL), `undefined` for a target an agent cannot follow. Each distinct target is resolved once.
 */
function linkTargets(base: string, linkMap: HtmlToMarkdownOptions['linkMap']): (target: string) => string | undefined {
  const from = linkMap && new URL(linkMap.upstreamUrl);
  const fromPath = from?.pathname.replace(/\/+$/, '') ?? '';
  const appUrl = linkMap?.appUrl.replace(/\/+$/, '') ?? '';
  const seen = new Map<string, string | undefined>();
  const map = (target: string): string | undefined => {
    let url: URL;
    try {
      url = new URL(target.trim(), base);
    } catch {
      return undefined;
    }
    if (!FOLLOWABLE.test(url.protocol)) return undefined;
    if (!from || url.origin !== from.origin || (fromPath && url.pathname !== fromPath && !url.pathname.startsWith(`${fromPath}/`)))
      return url.href;
    return `${appUrl}${url.pathname.slice(fromPath.length) || '/'}${url.search}${url.hash}`;
  };
  return (target) => {
    if (!seen.has(target)) seen.set(target, map(target));
    return seen.get(target);
  };
}

function resolve(reference: string, base: string): string | undefined {
  try {
    return new URL(reference.trim(), base).href;
  } catch {
    return undefined;
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Decodes the character references an attribute or `<title>` commonly holds (the converter decodes the body's itself). */
function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, name: string) => {
    if (name[0] !== '#') return ENTITIES[name.toLowerCase()] ?? entity;
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  });
}
