/**
 * Content negotiation for HTTP apps: does a request prefer Markdown to the HTML page?
 * (RFC 9110 §12.5.1 `Accept`, §12.4.2 quality values.)
 */

/** One media range of an `Accept` header. */
export interface MediaRange {
  type: string;
  subtype: string;
  /** Parameters other than `q`, lower-cased names. */
  params: Record<string, string>;
  /** Quality 0…1; 0 means "not acceptable". */
  q: number;
  /** Position in the header, for the tie-break documented on {@link prefersMarkdown}. */
  index: number;
}

/** How well a representation is accepted: its quality and how specific the matching range was. */
export interface Acceptance {
  q: number;
  /** 0 `*\/*`, 1 `type/*`, 2 `type/subtype`, 3 `type/subtype;param` (RFC 9110 §12.5.1: most specific wins). */
  specificity: number;
  index: number;
}

/** What the portal answers when it converts a page (RFC 7763 `text/markdown`, GitHub-flavoured variant). */
export const MARKDOWN_MEDIA_TYPE = 'text/markdown; charset=utf-8; variant=gfm';

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * Parses an `Accept` header. Malformed ranges (no `/`, bad tokens, a `q` that is not a qvalue)
 * are skipped rather than failing the request, as most servers do.
 */
export function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  header.split(',').forEach((part, index) => {
    const [range = '', ...paramParts] = part.split(';').map((piece) => piece.trim());
    const [type = '', subtype = '', extra] = range.toLowerCase().split('/');
    if (extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype) || (type === '*' && subtype !== '*')) return;
    const params: Record<string, string> = {};
    let q = 1;
    for (const param of paramParts) {
      const eq = param.indexOf('=');
      if (eq === -1) continue;
      const name = param.slice(0, eq).trim().toLowerCase();
      const value = param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (name === 'q') {
        if (!QVALUE.test(value)) return;
        q = Number(value);
        break; // what follows q are accept-extensions, not media type parameters
      }
      params[name] = value.toLowerCase();
    }
    ranges.push({ type, subtype, params, q, index });
  });
  return ranges;
}

/**
 * How the ranges accept `mediaType` (`text/markdown`): the quality of the most specific matching
 * range, or `undefined` when no range matches. Parameters on a range must all match ones on the
 * media type (`text/markdown;charset=utf-8` matches a `text/markdown; charset=utf-8` answer).
 */
export function acceptanceOf(ranges: readonly MediaRange[], mediaType: string): Acceptance | undefined {
  const [typeAndSubtype = '', ...paramParts] = mediaType.toLowerCase().split(';');
  const [type, subtype] = typeAndSubtype.trim().split('/');
  const offered = Object.fromEntries(paramParts.map((p) => p.split('=').map((s) => s.trim())));
  let best: Acceptance | undefined;
  for (const range of ranges) {
    const paramNames = Object.keys(range.params);
    let specificity: number;
    if (range.type === '*') specificity = 0;
    else if (range.type !== type) continue;
    else if (range.subtype === '*') specificity = 1;
    else if (range.subtype !== subtype) continue;
    else if (paramNames.length === 0) specificity = 2;
    else if (paramNames.every((name) => offered[name] === range.params[name])) specificity = 3;
    else continue;
    if (!best || specificity > best.specificity) best = { q: range.q, specificity, index: range.index };
  }
  return best;
}

/**
 * Whether to answer Markdown instead of the app's HTML, given the request's `Accept` header.
 *
 * True only when `text/markdown` is acceptable (`q > 0`) and preferred to `text/html`: a higher
 * quality wins; on equal quality an explicit `text/markdown` beats an HTML match that only came
 * from a wildcard (`text/markdown, *\/*`); if both are equally explicit, the one listed first wins
 * (order has no meaning in RFC 9110, but agents list what they want first). No header, an empty
 * one, or only wildcards keep HTML: the page as the app serves it is the safe default.
 */
export function prefersMarkdown(accept: string | undefined): boolean {
  if (!accept?.trim()) return false;
  const ranges = parseAccept(accept);
  const markdown = acceptanceOf(ranges, MARKDOWN_MEDIA_TYPE);
  if (!markdown || markdown.q === 0 || markdown.specificity < 2) return false;
  const html = acceptanceOf(ranges, 'text/html; charset=utf-8');
  if (!html || html.q < markdown.q) return true;
  if (html.q > markdown.q) return false;
  if (html.specificity !== markdown.specificity) return markdown.specificity > html.specificity;
  return markdown.index < html.index;
}
