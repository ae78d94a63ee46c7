import type { IncomingHttpHeaders } from 'node:http';
import { createMarkdownCache, type MarkdownCacheRequest } from '../../portal/apps/markdown-cache.js';

describe('createMarkdownCache (RFC 9111 freshness, validators, Vary, memory bound)', () => {
  let clock = 0;
  const now = () => clock;
  beforeEach(() => {
    clock = Date.parse('2026-12-03T10:00:00Z');
  });

  const request = (extra: Partial<MarkdownCacheRequest> = {}): MarkdownCacheRequest => ({
    page: 'docs\n/page',
    caller: 'alice\nagent',
    perPersonCredential: true,
    headers: {},
    ...extra,
  });
  const body = (text = '# Page\n') => Buffer.from(text);
  const ok = (headers: IncomingHttpHeaders) => ({ status: 200, headers });

  test('max-age: fresh until it passes, then stale with its validators', () => {
    const cache = createMarkdownCache({ now });
    expect(cache.store(request(), ok({ 'cache-control': 'max-age=60', etag: '"a"' }), body(), { 'content-type': 'text/markdown' })).toBe(
      true,
    );
    expect(cache.lookup(request())).toMatchObject({ fresh: true, etag: '"a"' });
    clock += 61_000;
    expect(cache.lookup(request())).toMatchObject({ fresh: false, etag: '"a"' });
  });

  test('Age counts against max-age; Expires − Date gives the lifetime without max-age', () => {
    const cache = createMarkdownCache({ now });
    cache.store(request(), ok({ 'cache-control': 'max-age=60', age: '50', etag: '"a"' }), body(), {});
    clock += 11_000;
    expect(cache.lookup(request())?.fresh).toBe(false);
    cache.store(
      request(),
      ok({ date: 'Thu, 03 Dec 2026 10:00:00 GMT', expires: 'Thu, 03 Dec 2026 10:05:00 GMT', etag: '"b"' }),
      body(),
      {},
    );
    clock += 299_000;
    expect(cache.lookup(request())?.fresh).toBe(true);
    clock += 2_000;
    expect(cache.lookup(request())?.fresh).toBe(false);
  });

  test('s-maxage counts only for a shared entry', () => {
    const cache = createMarkdownCache({ now });
    const headers = { 'cache-control': 'public, max-age=10, s-maxage=600', etag: '"s"' };
    cache.store(request({ perPersonCredential: false }), ok(headers), body(), {});
    cache.store(request({ page: 'docs\n/other' }), ok(headers), body(), {});
    clock += 60_000;
    expect(cache.lookup(request({ perPersonCredential: false, caller: 'bob\nagent' }))?.fresh).toBe(true);
    expect(cache.lookup(request({ page: 'docs\n/other' }))?.fresh).toBe(false);
  });

  test('not stored: no-store, Vary: *, no validators and no freshness, a non-200, a request with no-store', () => {
    const cache = createMarkdownCache({ now });
    expect(cache.store(request(), ok({ 'cache-control': 'no-store, max-age=60', etag: '"x"' }), body(), {})).toBe(false);
    expect(cache.store(request(), ok({ 'cache-control': 'max-age=60', vary: '*' }), body(), {})).toBe(false);
    expect(cache.store(request(), ok({ 'cache-control': 'no-cache' }), body(), {})).toBe(false);
    expect(cache.store(request(), { status: 203, headers: { 'cache-control': 'max-age=60' } }, body(), {})).toBe(false);
    expect(cache.store(request({ headers: { 'cache-control': 'no-store' } }), ok({ 'cache-control': 'max-age=60' }), body(), {})).toBe(
      false,
    );
    expect(cache.lookup(request())).toBeUndefined();
    expect(cache.size()).toBe(0);
  });

  test('no-cache is stored but never fresh; a request with no-cache or max-age=0 is never answered fresh', () => {
    const cache = createMarkdownCache({ now });
    cache.store(request(), ok({ 'cache-control': 'no-cache, max-age=600', etag: '"n"' }), body(), {});
    expect(cache.lookup(request())).toMatchObject({ fresh: false, etag: '"n"' });
    cache.store(request(), ok({ 'cache-control': 'max-age=600', etag: '"m"' }), body(), {});
    expect(cache.lookup(request({ headers: { 'cache-control': 'no-cache' } }))?.fresh).toBe(false);
    expect(cache.lookup(request({ headers: { 'cache-control': 'max-age=0' } }))?.fresh).toBe(false);
    expect(cache.lookup(request({ headers: { pragma: 'no-cache' } }))?.fresh).toBe(false);
    expect(cache.lookup(request())?.fresh).toBe(true);
  });

  test('a private entry is found only by its caller; a shared one by anyone', () => {
    const cache = createMarkdownCache({ now });
    cache.store(request(), ok({ 'cache-control': 'private, max-age=600', etag: '"p"' }), body('# Alice\n'), {});
    expect(cache.lookup(request({ caller: 'bob\nagent' }))).toBeUndefined();
    expect(cache.lookup(request({ caller: 'alice\nother-agent' }))).toBeUndefined();
    cache.store(
      request({ page: 'docs\n/shared', perPersonCredential: false }),
      ok({ 'cache-control': 'public, max-age=600', etag: '"s"' }),
      body(),
      {},
    );
    expect(cache.lookup(request({ page: 'docs\n/shared', caller: 'bob\nagent', perPersonCredential: false }))?.fresh).toBe(true);
    // Once the app sends a per-person credential, the shared copy is not read.
    expect(cache.lookup(request({ page: 'docs\n/shared', caller: 'bob\nagent' }))).toBeUndefined();
  });

  test('Vary: the stored request header values must match', () => {
    const cache = createMarkdownCache({ now });
    cache.store(
      request({ headers: { 'accept-language': 'de' } }),
      ok({ 'cache-control': 'max-age=600', vary: 'Accept-Language', etag: '"de"' }),
      body(),
      {},
    );
    expect(cache.lookup(request({ headers: { 'accept-language': 'de' } }))?.etag).toBe('"de"');
    expect(cache.lookup(request({ headers: { 'accept-language': 'fr' } }))).toBeUndefined();
  });

  test('a 304 renews freshness from its own headers; a 304 that says no-store still answers, then forgets', () => {
    const cache = createMarkdownCache({ now });
    cache.store(request(), ok({ 'cache-control': 'max-age=10', etag: '"r"' }), body('# Kept\n'), {
      'x-markdown-tokens': '2',
      'set-cookie': 'a=1',
      date: 'then',
    });
    clock += 20_000;
    const renewed = cache.revalidated(request(), { status: 304, headers: { 'cache-control': 'max-age=600', etag: '"r"' } });
    expect(renewed).toMatchObject({ fresh: true, headers: { 'x-markdown-tokens': '2' } });
    expect(renewed?.body.toString()).toBe('# Kept\n');
    expect(renewed?.headers['set-cookie']).toBeUndefined();
    expect(renewed?.headers.date).toBeUndefined();
    const last = cache.revalidated(request(), { status: 304, headers: { 'cache-control': 'no-store' } });
    expect(last?.body.toString()).toBe('# Kept\n');
    expect(cache.lookup(request())).toBeUndefined();
  });

  test('bounded by bytes: the least recently used entry goes first, and one page may not take over a quarter', () => {
    const cache = createMarkdownCache({ now, maxBytes: 4000 });
    const page = (path: string) => request({ page: `docs\n${path}` });
    const headers = { 'cache-control': 'max-age=600', etag: '"e"' };
    for (const path of ['/a', '/b', '/c', '/d']) expect(cache.store(page(path), ok(headers), Buffer.alloc(900, 'x'), {})).toBe(true);
    expect(cache.lookup(page('/a'))).toBeDefined();
    cache.store(page('/e'), ok(headers), Buffer.alloc(900, 'x'), {});
    expect(cache.lookup(page('/b'))).toBeUndefined();
    for (const path of ['/a', '/c', '/d', '/e']) expect(cache.lookup(page(path))).toBeDefined();
    expect(cache.size()).toBeLessThanOrEqual(4000);
    expect(cache.store(page('/huge'), ok(headers), Buffer.alloc(1100, 'x'), {})).toBe(false);
  });
});
