import { rewriteLocation, rewriteSetCookie, type RewriteTarget } from '../../../adapters/http-app/rewrite.js';

const wiki: RewriteTarget = { upstreamOrigin: 'http://127.0.0.1:4000', basePath: '/wiki', mountPath: '/apps/wiki' };
const root: RewriteTarget = { upstreamOrigin: 'http://127.0.0.1:4000', basePath: '', mountPath: '/apps/wiki' };
const hostRouted: RewriteTarget = { upstreamOrigin: 'http://127.0.0.1:4000', basePath: '/wiki', mountPath: '' };

describe('rewriteLocation', () => {
  test.each([
    [wiki, 'http://127.0.0.1:4000/wiki/page?x=1#top', '/apps/wiki/page?x=1#top'],
    [wiki, 'http://127.0.0.1:4000/wiki', '/apps/wiki'],
    [wiki, '/wiki/login?next=%2Fwiki%2Fa', '/apps/wiki/login?next=%2Fwiki%2Fa'],
    [wiki, '/wikipedia', '/wikipedia'],
    [wiki, '/elsewhere', '/elsewhere'],
    [wiki, 'http://127.0.0.1:4000/elsewhere', 'http://127.0.0.1:4000/elsewhere'],
    [wiki, 'https://idp.example.com/login', 'https://idp.example.com/login'],
    [wiki, '//cdn.example.com/x', '//cdn.example.com/x'],
    [wiki, 'next-page', 'next-page'],
    [root, '/', '/apps/wiki/'],
    [root, 'http://127.0.0.1:4000/a/b', '/apps/wiki/a/b'],
    [hostRouted, '/wiki/a', '/a'],
    [hostRouted, '/wiki', '/'],
    [hostRouted, 'http://127.0.0.1:4000/wiki?x', '/?x'],
  ])('%#: %s', (target, location, expected) => {
    expect(rewriteLocation(location, target)).toBe(expected);
  });
});

describe('rewriteSetCookie', () => {
  test.each([
    [root, 'sid=1; Path=/; HttpOnly; Secure; SameSite=Lax', 'sid=1; Path=/apps/wiki; HttpOnly; Secure; SameSite=Lax'],
    [wiki, 'sid=1; path=/wiki/admin', 'sid=1; Path=/apps/wiki/admin'],
    [wiki, 'sid=1; Path=/other', 'sid=1; Path=/apps/wiki'],
    [wiki, 'sid=1; Domain=.corp.example; Path=/wiki', 'sid=1; Path=/apps/wiki'],
    [wiki, 'sid=1; Max-Age=60', 'sid=1; Max-Age=60'],
    [hostRouted, 'sid=1; Path=/wiki/', 'sid=1; Path=/'],
    [hostRouted, 'sid=1; Path=/', 'sid=1; Path=/'],
    [wiki, 'token=a=b=c; Path=/wiki', 'token=a=b=c; Path=/apps/wiki'],
  ])('%#: %s', (target, cookie, expected) => {
    expect(rewriteSetCookie(cookie, target, [])).toBe(expected);
  });

  test('an upstream may not set one of the portal cookies', () => {
    expect(rewriteSetCookie('gh_session=forged; Path=/', root, ['gh_session'])).toBeUndefined();
    expect(rewriteSetCookie(' gh_session =forged', root, ['gh_session'])).toBeUndefined();
  });

  test('nor one a browser would send under a portal name: a nameless cookie, or the name in another case', () => {
    expect(rewriteSetCookie('=gh_session=forged; Path=/', root, ['gh_session'])).toBeUndefined();
    expect(rewriteSetCookie('gh_session; Path=/', root, ['gh_session'])).toBeUndefined();
    expect(rewriteSetCookie('__host-GH=forged; Path=/; Secure', root, ['__Host-gh'])).toBeUndefined();
    expect(rewriteSetCookie('=app_value; Path=/', root, ['gh_session'])).toBe('=app_value; Path=/apps/wiki');
  });
});
