import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/** Whether the hop at `address` (`hop` counted from the portal) may tell who the client is. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * `http.trust_proxy` as express reads its `trust proxy` setting: `true` trusts every hop, a
 * number that many hops, a string a comma-separated list of addresses, subnets or the names
 * proxy-addr knows (`loopback`, `uniquelocal`). One function, for express and for the routes
 * served outside it, so both name the same client.
 */
export function compileTrustProxy(setting: boolean | number | string): TrustProxy {
  if (setting === true) return () => true;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  if (typeof setting === 'string') return proxyaddr.compile(setting.split(',').map((entry) => entry.trim()));
  return proxyaddr.compile([]);
}

/** The client's address: the socket's, or what the trusted proxies in front said it was (`X-Forwarded-For`). */
export function clientIp(req: IncomingMessage, trust: TrustProxy): string | undefined {
  return req.socket.remoteAddress === undefined ? undefined : proxyaddr(req, trust);
}
