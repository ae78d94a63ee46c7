import { BlockList, isIP } from 'node:net';

/**
 * What an IP address is, after the IANA IPv4 and IPv6 Special-Purpose Address Registries
 * (RFC 6890). Only `public` addresses are reachable on the internet; every other kind is this
 * machine, the local network, or nowhere.
 */
export type AddressKind =
  /** 127.0.0.0/8, ::1 (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3). */
  | 'loopback'
  /** 10/8, 172.16/12, 192.168/16 (RFC 1918). */
  | 'private'
  /** 169.254/16, fe80::/10 (RFC 3927, RFC 4291 §2.5.6): where cloud metadata services live. */
  | 'link-local'
  /** fc00::/7 (RFC 4193), and the deprecated site-local fec0::/10. */
  | 'unique-local'
  /** 100.64/10, carrier-grade NAT (RFC 6598). */
  | 'shared'
  /** 224/4, ff00::/8. */
  | 'multicast'
  /** 0.0.0.0/8, :: (RFC 1122 "this host"; connecting to it reaches the local host). */
  | 'unspecified'
  /** 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20 (RFC 5737, RFC 3849, RFC 9637). */
  | 'documentation'
  /** 198.18/15 (RFC 2544). */
  | 'benchmarking'
  /** Everything else set aside: 240/4 and broadcast, IETF protocol assignments, discard-only, IPv4-compatible, Teredo. */
  | 'reserved'
  | 'public';

/** Special-purpose ranges; the first that holds an address names its kind (`::1` before `::/96`). */
const RANGES: Array<[Exclude<AddressKind, 'public'>, 'ipv4' | 'ipv6', string, number]> = [
  ['unspecified', 'ipv4', '0.0.0.0', 8],
  ['private', 'ipv4', '10.0.0.0', 8],
  ['shared', 'ipv4', '100.64.0.0', 10],
  ['loopback', 'ipv4', '127.0.0.0', 8],
  ['link-local', 'ipv4', '169.254.0.0', 16],
  ['private', 'ipv4', '172.16.0.0', 12],
  ['reserved', 'ipv4', '192.0.0.0', 24],
  ['documentation', 'ipv4', '192.0.2.0', 24],
  ['reserved', 'ipv4', '192.88.99.0', 24],
  ['private', 'ipv4', '192.168.0.0', 16],
  ['benchmarking', 'ipv4', '198.18.0.0', 15],
  ['documentation', 'ipv4', '198.51.100.0', 24],
  ['documentation', 'ipv4', '203.0.113.0', 24],
  ['multicast', 'ipv4', '224.0.0.0', 4],
  ['reserved', 'ipv4', '240.0.0.0', 4],
  ['unspecified', 'ipv6', '::', 128],
  ['loopback', 'ipv6', '::1', 128],
  // IPv4-compatible addresses (deprecated, RFC 4291 §2.5.5.1). IPv4-mapped ones (::ffff:0:0/96)
  // need no rule: BlockList checks them against the IPv4 rules above.
  ['reserved', 'ipv6', '::', 96],
  ['private', 'ipv6', '64:ff9b:1::', 48],
  ['reserved', 'ipv6', '100::', 64],
  ['documentation', 'ipv6', '2001:db8::', 32],
  ['reserved', 'ipv6', '2001::', 23],
  ['documentation', 'ipv6', '3fff::', 20],
  ['reserved', 'ipv6', '5f00::', 16],
  ['unique-local', 'ipv6', 'fc00::', 7],
  ['link-local', 'ipv6', 'fe80::', 10],
  ['unique-local', 'ipv6', 'fec0::', 10],
  ['multicast', 'ipv6', 'ff00::', 8],
];

const RULES = RANGES.map(([kind, family, network, prefix]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { kind, list };
});

/**
 * The kind of an IP address (`127.0.0.1`, `::ffff:7f00:1`, `fe80::1%eth0`), or `undefined` when
 * `address` is not one. An IPv6 address that carries an IPv4 address (IPv4-mapped, NAT64
 * 64:ff9b::/96 of RFC 6052, 6to4 2002::/16 of RFC 3056) is the kind of the IPv4 address it
 * reaches.
 */
export function classifyAddress(address: string): AddressKind | undefined {
  const family = isIP(address);
  if (family === 0) return undefined;
  if (family === 6) {
    const embedded = embeddedIpv4(address);
    if (embedded !== undefined) return classifyAddress(embedded);
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return RULES.find(({ list }) => list.check(address, type))?.kind ?? 'public';
}

/** The IP address a URL host names (`[::1]` → `::1`), or `undefined` for a DNS name. */
export function ipLiteral(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(bare) ? bare : undefined;
}

/**
 * Whether a host (a URL's `hostname`: `localhost`, `127.0.0.2`, `[::1]`, `[::ffff:7f00:1]`) is
 * this machine: the name `localhost` (RFC 6761 §6.3) or a loopback address. This is a property
 * of the name as written; a DNS name that resolves to loopback is not one (what it resolves to is
 * checked where the portal connects, see `guarded-fetch.ts`).
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase();
  if (name === 'localhost' || name === 'localhost.') return true;
  const literal = ipLiteral(name);
  return literal !== undefined && classifyAddress(literal) === 'loopback';
}

/** The IPv4 address inside a NAT64 (64:ff9b::/96) or 6to4 (2002::/16) IPv6 address. */
function embeddedIpv4(address: string): string | undefined {
  const groups = ipv6Groups(address);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0)) return ipv4(groups[6]!, groups[7]!);
  if (groups[0] === 0x2002) return ipv4(groups[1]!, groups[2]!);
  return undefined;
}

/** The eight 16-bit groups of a valid IPv6 address (zone dropped, `::` expanded, a dotted-quad tail read). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%')[0]!.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return tail === undefined ? front : [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

function ipv4(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}
