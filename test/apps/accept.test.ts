import { acceptanceOf, parseAccept, prefersMarkdown } from '../../portal/apps/accept.js';

describe('prefersMarkdown (RFC 9110 §12.5.1)', () => {
  test.each<[string | undefined, boolean]>([
    // No preference stated: the app's HTML.
    [undefined, false],
    ['', false],
    ['   ', false],
    ['*/*', false],
    ['text/*', false],
    ['text/html', false],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', false], // a browser
    ['application/json', false],
    // Explicit Markdown.
    ['text/markdown', true],
    ['TEXT/Markdown', true],
    ['text/markdown, */*', true],
    ['text/markdown, text/*', true],
    ['text/markdown, text/html', true],
    ['text/markdown;q=0.9, text/html;q=0.8', true],
    ['text/html;q=0.5, text/markdown', true],
    ['text/markdown;charset=utf-8', true],
    ['text/markdown; charset="UTF-8"', true],
    ['text/markdown;variant=GFM', true],
    ['text/plain, text/markdown;q=0.5, text/html;q=0.4', true],
    ['text/markdown, text/plain;q=0.9, */*;q=0.8', true],
    // Ties: an explicit HTML listed first keeps HTML.
    ['text/html, text/markdown', false],
    ['text/html;q=0.8, text/markdown;q=0.8', false],
    // Quality wins over order and specificity.
    ['text/markdown;q=0.5, text/html', false],
    ['text/markdown;q=0.5, */*', false],
    // q=0 is a refusal (§12.4.2).
    ['text/markdown;q=0', false],
    ['text/markdown;q=0.000, text/html', false],
    ['text/markdown;q=0, */*', false],
    ['*/*, text/markdown;q=0', false],
    ['text/markdown, text/html;q=0', true],
    ['text/markdown;q=0.001, text/html;q=0', true],
    // The most specific range decides, wherever it is listed.
    ['text/markdown;q=0.9, text/*;q=0.1', true],
    ['text/*;q=0.1, text/markdown', true],
    ['text/markdown;charset=latin1', false], // we answer utf-8 only
    // Malformed ranges are ignored, not fatal.
    ['text/markdown;q=2', false],
    ['text/markdown;q=abc, text/html', false],
    ['text/markdown;q=1.0001', false],
    ['markdown', false],
    ['*/markdown', false],
    ['text/markdown/extra', false],
    ['garbage, text/markdown', true],
    ['text/markdown;q=0.8;ext=1, text/html;q=0.7', true],
  ])('%j → %s', (accept, expected) => {
    expect(prefersMarkdown(accept)).toBe(expected);
  });
});

describe('parseAccept', () => {
  test('lower-cases types and parameters, reads q, and stops at accept-extensions', () => {
    expect(parseAccept('Text/Markdown; Charset=UTF-8; q=0.7; foo=bar, */*;q=0.1')).toEqual([
      { type: 'text', subtype: 'markdown', params: { charset: 'utf-8' }, q: 0.7, index: 0 },
      { type: '*', subtype: '*', params: {}, q: 0.1, index: 1 },
    ]);
  });
});

describe('acceptanceOf', () => {
  test('reports the most specific match', () => {
    const ranges = parseAccept('*/*;q=0.1, text/*;q=0.2, text/html;q=0.3, text/html;level=1;q=0.4');
    expect(acceptanceOf(ranges, 'text/html;level=1')).toMatchObject({ q: 0.4, specificity: 3 });
    expect(acceptanceOf(ranges, 'text/html')).toMatchObject({ q: 0.3, specificity: 2 });
    expect(acceptanceOf(ranges, 'text/plain')).toMatchObject({ q: 0.2, specificity: 1 });
    expect(acceptanceOf(ranges, 'image/png')).toMatchObject({ q: 0.1, specificity: 0 });
    expect(acceptanceOf(parseAccept('text/html'), 'image/png')).toBeUndefined();
  });
});
