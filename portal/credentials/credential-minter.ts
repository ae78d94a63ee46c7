import type { AuthChallenge } from '../../adapters/mcp-upstream-types.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { AuthContext } from '../oauth/bearer.js';
import type { PortalAssertions } from './portal-jwt.js';
import { answerUpstreamChallenge, upstreamCredentialHeaders, type CredentialSources } from './upstream-credentials.js';

/**
 * What the portal sends an upstream on behalf of a caller, and what it does when the upstream
 * refuses it: the one collaborator every path to an upstream (MCP pool and relay, app proxy,
 * WebSockets, the fetch tool) asks, whatever the upstream's credential type.
 */
export interface CredentialMinter {
  /** The credential headers for this upstream and caller (see `upstreamCredentialHeaders`). */
  headersFor(upstream: UpstreamConfig, caller: AuthContext): Promise<Record<string, string>>;
  /** `'retry'` when the refused credential was renewed (see `answerUpstreamChallenge`); may throw a connect-required error. */
  answerChallenge(upstream: UpstreamConfig, caller: AuthContext, challenge: AuthChallenge): Promise<'retry' | undefined>;
}

/** Binds the portal's assertions and the per-upstream credential sources, built once per portal. */
export function createCredentialMinter(options: { assertions: PortalAssertions; sources: CredentialSources }): CredentialMinter {
  const { assertions, sources } = options;
  return {
    headersFor: (upstream, caller) => upstreamCredentialHeaders(upstream, caller, assertions, sources),
    answerChallenge: (upstream, caller, challenge) => answerUpstreamChallenge(upstream, caller, challenge, sources),
  };
}
