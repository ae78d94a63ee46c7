/** Scopes the portal issues (RFC 8414 `scopes_supported`). */
export const SCOPES = {
  /** Use the MCP endpoints and apps the token's audience names. */
  mcp: 'mcp',
  /** Receive a refresh token. */
  offlineAccess: 'offline_access',
  /** Use the admin API (`{issuer}/admin`); only for that resource, only for admins. */
  admin: 'admin',
} as const;

export const SUPPORTED_SCOPES: readonly string[] = Object.values(SCOPES);

/** The default when a request names no scope. */
export const DEFAULT_SCOPE = SCOPES.mcp;

export function parseScope(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(' ').filter(Boolean))];
}

export function formatScope(scopes: readonly string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

/**
 * The `scope` a 403 `insufficient_scope` challenge asks for (RFC 6750 §3.1): what the request
 * needs, then what the token already holds, so that a client re-authorizing with exactly that
 * keeps the access it had (MCP 2026-07-28 "Step-Up Authorization Flow"; clients that do not
 * add their earlier scopes themselves lose nothing). `offline_access` is not repeated: a
 * refresh token is no requirement of a resource (MCP 2026-07-28 "Refresh Tokens").
 */
export function stepUpScope(needed: readonly string[], held: readonly string[]): string[] {
  return [...new Set([...needed, ...held.filter((s) => s !== SCOPES.offlineAccess)])];
}
