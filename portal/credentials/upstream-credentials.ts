import type { UpstreamConfig } from '../config/schema.js';
import type { AuthContext } from '../oauth/bearer.js';
import type { PortalAssertions } from './portal-jwt.js';

/**
 * The headers that carry a person's identity to an upstream, per its credential strategy
 * (DESIGN.md): never the agent's own token. `portal-jwt` goes as `Authorization: Bearer` to
 * MCP upstreams and as `Gatehouse-Assertion` to HTTP apps, unless `credentials.header` says otherwise.
 */
export async function upstreamCredentialHeaders(upstream: UpstreamConfig, auth: AuthContext, assertions: PortalAssertions): Promise<Record<string, string>> {
  const { credentials } = upstream;
  switch (credentials.type) {
    case 'none':
      return {};
    case 'portal-jwt': {
      const token = await assertions.mint(auth, upstream.url ?? `urn:gatehouse:upstream:${upstream.id}`);
      const header = credentials.header ?? (upstream.kind === 'mcp' ? 'Authorization' : 'Gatehouse-Assertion');
      return { [header]: header.toLowerCase() === 'authorization' ? `Bearer ${token}` : token };
    }
    default:
      // Refused at start-up by the config check; kept exhaustive for the type checker.
      throw new Error(`upstream "${upstream.id}": credential type ${credentials.type} is not available`);
  }
}
