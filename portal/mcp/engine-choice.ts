import type { IncomingMessage } from 'node:http';
import type { UpstreamEraCache } from '../../adapters/mcp-upstream.js';
import type { UpstreamConfig } from '../config/schema.js';
import { needsApproval } from '../policy/tools.js';
import { originalToolName } from './tool-handlers.js';
import type { StatelessOutcome, TransparentRelay } from './transparent-relay.js';

/**
 * What serves an agent on `/mcp/{id}`: the relay (transparent-relay.ts: the agent's messages go
 * to the upstream as they are, with the portal's rules and credential) or the SDK path (the
 * portal's own SDK server, speaking to the upstream in the upstream's era and bridging the two).
 */
export type Engine = 'relay' | 'sdk';

/**
 * The one place that decides the engine of `/mcp/{id}`: by the upstream's kind and its era (as
 * remembered for every process), for the agent's era. The relay serves an agent that speaks what
 * the upstream speaks; the SDK path bridges the rest:
 *
 * | upstream                        | 2026 agent                      | 2025 agent                                   |
 * |---------------------------------|---------------------------------|----------------------------------------------|
 * | stdio                           | SDK                             | SDK                                          |
 * | HTTP, speaks 2026-07-28         | relay                           | relay if it also speaks the agent's version, else SDK |
 * | HTTP, session protocol          | SDK                             | relay                                        |
 * | HTTP, era not known yet         | asked first (`server/discover`) | relay: its answer to `initialize` tells      |
 *
 * A 2025 session keeps the engine chosen at its `initialize`. One rule for what the relay cannot
 * serve, which goes to the SDK path: a 2026 agent's `subscriptions/listen` (the portal fans
 * changes in from its own upstream connections); a call to a tool that waits for the person's
 * approval; a request the relay found it could not take (the person must connect their account
 * first, or the upstream no longer speaks 2026), which the SDK path answers with an
 * `input_required` round or serves in the era it probes anew; and, for a 2025 agent, a session
 * whose `initialize` the relay could not take (an HTTP+SSE server, one that speaks only 2026, or
 * the person must connect first: the SDK path then asks at the first tool call).
 */
export interface EngineChoice {
  /** The engine for a 2026 agent's request (its parsed body) on the endpoint of `upstream`. */
  forStateless(req: IncomingMessage, upstream: UpstreamConfig, body: unknown): Promise<Engine>;
  /** The engine for a 2025 agent's new session that asks for `protocolVersion`. */
  forSession(upstream: UpstreamConfig, protocolVersion: string): Promise<Engine>;
  /** The relay did not answer a 2026 request, for `why`: the SDK path serves it, after the era is forgotten if that was the reason. */
  relayDeclined(upstream: UpstreamConfig, why: Exclude<StatelessOutcome, 'answered'>): Promise<'sdk'>;
}

export function createEngineChoice(deps: {
  eras: UpstreamEraCache;
  relay: Pick<TransparentRelay, 'probe'>;
  /** Closes this process's stateless connections to an upstream that no longer speaks 2026. */
  dropModernConnections: (upstreamId: string) => Promise<void>;
}): EngineChoice {
  const { eras, relay } = deps;
  return {
    async forStateless(req, upstream, body) {
      if (!upstream.url) return 'sdk';
      const { method, params } = (body ?? {}) as { method?: unknown; params?: { name?: unknown } };
      if (method === 'subscriptions/listen') return 'sdk';
      if (method === 'tools/call' && typeof params?.name === 'string' && needsApproval(upstream, originalToolName(upstream, params.name)))
        return 'sdk';
      let era = await eras.get(upstream.id, upstream.url);
      if (!era) {
        era = await relay.probe(req, upstream);
        if (era) await eras.set(upstream.id, upstream.url, era);
      }
      return era?.kind === 'modern' ? 'relay' : 'sdk';
    },
    async forSession(upstream, protocolVersion) {
      if (!upstream.url) return 'sdk';
      const era = await eras.get(upstream.id, upstream.url);
      if (era?.kind !== 'modern') return 'relay';
      return era.discover.supportedVersions.includes(protocolVersion) ? 'relay' : 'sdk';
    },
    async relayDeclined(upstream, why) {
      if (why === 'not-2026') {
        await eras.forget(upstream.id, upstream.url!);
        await deps.dropModernConnections(upstream.id);
      }
      return 'sdk';
    },
  };
}
