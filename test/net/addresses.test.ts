import { classifyAddress, ipLiteral, isLoopbackHost, type AddressKind } from '../../portal/net/addresses.js';

describe('the address classifier', () => {
  test.each<[string, AddressKind | undefined]>([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:2', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fd00:ec2::254', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['fec0::1', 'unique-local'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['100.128.0.1', 'public'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['192.0.2.1', 'documentation'],
    ['2001:db8::1', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['::7f00:1', 'reserved'],
    ['2001::1', 'reserved'],
    // NAT64 and 6to4 reach the IPv4 address inside them.
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['64:ff9b::169.254.169.254', 'link-local'],
    ['64:ff9b::808:808', 'public'],
    ['64:ff9b:1::1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:c0a8:101::1', 'private'],
    ['2002:808:808::1', 'public'],
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['localhost', undefined],
    ['example.com', undefined],
    ['[::1]', undefined],
    ['127.1', undefined],
    ['', undefined],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  test.each<[string, boolean]>([
    ['localhost', true],
    ['LOCALHOST', true],
    ['localhost.', true],
    ['127.0.0.1', true],
    ['127.0.0.2', true],
    ['[::1]', true],
    ['[::ffff:7f00:1]', true],
    ['::1', true],
    ['localhost.evil.example', false],
    ['127.evil.example', false],
    ['evil-localhost', false],
    ['sub.localhost', false],
    ['10.0.0.1', false],
    ['[fe80::1]', false],
    ['0.0.0.0', false],
    ['example.com', false],
    ['', false],
  ])('a URL host %p is loopback: %p', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  test('URL hosts written in other notations are normalized by the URL parser first, then classified', () => {
    for (const written of [
      'http://0x7f.1/',
      'http://2130706433/',
      'http://127.1/',
      'http://[0:0:0:0:0:0:0:1]/',
      'http://[::ffff:127.0.0.1]/',
    ]) {
      expect(isLoopbackHost(new URL(written).hostname)).toBe(true);
    }
  });

  test('ipLiteral unwraps a bracketed IPv6 host and leaves DNS names alone', () => {
    expect(ipLiteral('[::1]')).toBe('::1');
    expect(ipLiteral('10.0.0.1')).toBe('10.0.0.1');
    expect(ipLiteral('example.com')).toBeUndefined();
    expect(ipLiteral('[example.com]')).toBeUndefined();
  });
});
