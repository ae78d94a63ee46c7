import {
  decodeCursor,
  encodeCursor,
  MAX_NAME_LENGTH,
  parsePrefixedUri,
  prefixedName,
  prefixedUri,
  upstreamOfName,
} from '../../portal/mcp/naming.js';

describe('aggregate names', () => {
  test('a short name is {id}__{name}, and the id is found again', () => {
    expect(prefixedName('wiki', 'search')).toBe('wiki__search');
    expect(upstreamOfName('wiki__search')).toBe('wiki');
    // A tool's own double underscore stays part of the tool's name.
    expect(upstreamOfName(prefixedName('wiki', 'find__pages'))).toBe('wiki');
  });

  test('a name without the separator, or starting with it, names no upstream', () => {
    expect(upstreamOfName('search')).toBeUndefined();
    expect(upstreamOfName('__search')).toBeUndefined();
  });

  test('a long name is cut to the budget with a hash of the whole name: stable, and distinct for distinct names', () => {
    const long = 'x'.repeat(100);
    const shown = prefixedName('wiki', long);
    expect(shown).toHaveLength(MAX_NAME_LENGTH);
    expect(shown).toMatch(/^wiki__x+_[0-9a-f]{8}$/);
    expect(prefixedName('wiki', long)).toBe(shown);
    expect(prefixedName('wiki', `${long}y`)).not.toBe(shown);
    expect(prefixedName('wiki', 'x'.repeat(58))).toBe(`wiki__${'x'.repeat(58)}`);
    expect(prefixedName('wiki', 'x'.repeat(59))).toHaveLength(MAX_NAME_LENGTH);
    expect(prefixedName('wiki', long, 20)).toHaveLength(20);
  });
});

describe('aggregate resource URIs', () => {
  test('the prefix goes before the scheme and comes off again, templates and all', () => {
    expect(prefixedUri('files', 'file:///a/{name}')).toBe('gatehouse+files+file:///a/{name}');
    expect(parsePrefixedUri('gatehouse+files+file:///a/{name}')).toEqual({ upstreamId: 'files', uri: 'file:///a/{name}' });
    expect(parsePrefixedUri('gatehouse+files+line\nbreak')).toEqual({ upstreamId: 'files', uri: 'line\nbreak' });
  });

  test('a URI that is not the portal’s, or names no valid upstream id, is not parsed', () => {
    for (const uri of ['file:///a', 'gatehouse+Files+file:///a', 'gatehouse++file:///a', 'gatehouse+files+', 'gatehouse+files'])
      expect(parsePrefixedUri(uri)).toBeUndefined();
  });
});

describe('aggregate cursors', () => {
  test('round-trip', () => {
    expect(decodeCursor(encodeCursor({ upstream: 2, cursor: 'next' }))).toEqual({ upstream: 2, cursor: 'next' });
    expect(decodeCursor(encodeCursor({ upstream: 0 }))).toEqual({ upstream: 0 });
  });

  test('a cursor the portal did not make is undefined, never a throw', () => {
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const text of [
      '',
      'not base64 ***',
      forged({ upstream: -1 }),
      forged({ upstream: 1.5 }),
      forged({ upstream: '1' }),
      forged({ upstream: 1, cursor: 7 }),
      forged(null),
      forged([1]),
    ]) {
      expect(decodeCursor(text)).toBeUndefined();
    }
  });
});
