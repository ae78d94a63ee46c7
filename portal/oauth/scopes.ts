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
