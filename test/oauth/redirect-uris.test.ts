import { impliedApplicationType, redirectUriMatches, redirectUriProblem } from '../../portal/oauth/redirect-uris.js';

describe('redirect URI rules', () => {
  test('a client that states no type is native when any URI is loopback http or a private-use scheme', () => {
    expect(impliedApplicationType(['https://app.example/cb'])).toBe('web');
    expect(impliedApplicationType(['https://app.example/cb', 'http://127.0.0.1/cb'])).toBe('native');
    expect(impliedApplicationType(['com.example.app:/cb'])).toBe('native');
    expect(impliedApplicationType(['http://app.example/cb'])).toBe('web');
    expect(impliedApplicationType(['not a uri'])).toBe('web');
  });

  test.each([
    ['https://app.example/cb', 'web'],
    ['https://app.example/cb', 'native'],
    ['http://127.0.0.1:3000/cb', 'native'],
    ['http://[::1]/cb', 'native'],
    ['http://localhost/cb', 'native'],
    ['com.example.app:/cb', 'native'],
  ] as const)('%s may be registered by a %s client', (uri, type) => {
    expect(redirectUriProblem(uri, type)).toBeUndefined();
  });

  test.each([
    ['https://app.example/cb#frag', 'web', 'must not contain a fragment'],
    ['https://*.app.example/cb', 'web', 'must not contain wildcards'],
    ['https://user:pw@app.example/cb', 'web', 'must not contain credentials'],
    ['javascript:alert(1)', 'native', 'must not use the javascript: scheme'],
    ['data:text/html,x', 'native', 'must not use the data: scheme'],
    ['/relative', 'web', 'is not an absolute URI'],
    ['http://app.example/cb', 'web', 'must use https'],
    ['http://app.example/cb', 'native', 'must use https unless the host is loopback (127.0.0.1, [::1], localhost)'],
    ['http://127.0.0.1/cb', 'web', 'must use https: loopback http URIs are for application_type "native"'],
    ['com.example.app:/cb', 'web', 'must use https: private-use URI schemes are for application_type "native"'],
  ] as const)('%s by a %s client: %s', (uri, type, problem) => {
    expect(redirectUriProblem(uri, type)).toBe(problem);
  });

  test('a one-word private-use scheme only where the operator allows it (RFC 8252 §7.1)', () => {
    expect(redirectUriProblem('myapp:/cb', 'native')).toMatch(/^must use a reverse-DNS private-use scheme/);
    expect(redirectUriProblem('cursor://anysphere.cursor-retrieval/oauth/callback', 'native', ['cursor'])).toBeUndefined();
    expect(redirectUriProblem(`https://app.example/${'a'.repeat(2000)}`, 'web')).toBe('is longer than 2000 characters');
  });

  test('matching is exact, except the port of a registered loopback http URI (RFC 8252 §7.3)', () => {
    expect(redirectUriMatches('https://app.example/cb', 'https://app.example/cb')).toBe(true);
    expect(redirectUriMatches('http://127.0.0.1:51000/cb', 'http://127.0.0.1/cb')).toBe(true);
    expect(redirectUriMatches('http://127.0.0.1:51000/cb?x=1', 'http://127.0.0.1/cb?x=1')).toBe(true);
    for (const [requested, registered] of [
      ['https://app.example/cb/', 'https://app.example/cb'],
      ['https://app.example/CB', 'https://app.example/cb'],
      ['https://app.example:8443/cb', 'https://app.example/cb'],
      ['http://127.0.0.1:51000/other', 'http://127.0.0.1/cb'],
      ['http://localhost:51000/cb', 'http://127.0.0.1/cb'],
      ['http://127.0.0.1:51000/cb#x', 'http://127.0.0.1/cb'],
      ['http://u@127.0.0.1:51000/cb', 'http://127.0.0.1/cb'],
      ['http://127.0.0.1:51000/cb?y=2', 'http://127.0.0.1/cb?x=1'],
      ['http://app.example:81/cb', 'http://app.example/cb'],
      ['not a uri', 'http://127.0.0.1/cb'],
    ]) {
      expect({ requested, registered, match: redirectUriMatches(requested!, registered!) }).toEqual({
        requested,
        registered,
        match: false,
      });
    }
  });
});
