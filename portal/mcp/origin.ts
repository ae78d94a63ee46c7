import { isLoopbackHost } from '../net/addresses.js';

/**
 * Whether a browser `Origin` may call the MCP endpoints (MCP 2025-11-25, Transports, Security
 * warning: servers MUST validate `Origin` against DNS rebinding). No `Origin` (agents that are
 * not browsers) is fine; otherwise the portal's own origin, loopback origins (local tools such
 * as the MCP Inspector) and the configured `mcp.allowed_origins`.
 */
export function originAllowed(origin: string | undefined, issuer: string, allowedOrigins: readonly string[]): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.origin === 'null') return false;
  if (url.origin === new URL(issuer).origin || allowedOrigins.includes(url.origin)) return true;
  return (url.protocol === 'http:' || url.protocol === 'https:') && isLoopbackHost(url.hostname);
}
