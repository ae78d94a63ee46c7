import { safeReturnTo } from '../../portal/login/return-to.js';

describe('safeReturnTo', () => {
  test('a same-origin path is kept, query and all', () => {
    for (const path of ['/', '/connections', '/authorize?client_id=a&state=b%2Fc', '/apps/wiki/page#part'])
      expect(safeReturnTo(path)).toBe(path);
  });

  test('anything that could leave the portal becomes home', () => {
    for (const value of [
      '//evil.example',
      'https://evil.example/',
      'evil',
      '',
      '/\\evil.example',
      '/\t/evil.example',
      '/\n/evil',
      '/a b',
      '/\u007f',
      `/${'a'.repeat(2000)}`,
      undefined,
      null,
      42,
      ['/'],
      { toString: () => '/' },
    ]) {
      expect(safeReturnTo(value)).toBe('/');
    }
  });
});
