import { randomUUID } from 'node:crypto';
import type { ClientCapabilities, Implementation } from '@modelcontextprotocol/server';
import type { IncomingMessage } from 'node:http';
import type { UpstreamSession } from '../../adapters/mcp-upstream.js';
import { auditRequest } from '../audit/request-audit.js';
import { getJson, setJson, storeKey, type Lock, type Store } from '../store/store.js';

/**
 * An agent's MCP session, kept in the Store so that any portal process can serve its next
 * request (DESIGN.md "State"): who it belongs to, what was negotiated, and the upstream
 * sessions it opened (so another process re-attaches to them instead of starting over).
 */
export interface AgentSession {
  id: string;
  /** `aggregate` for `/mcp`, else the upstream id of `/mcp/{id}`. */
  endpoint: string;
  personId: string;
  clientId: string;
  grantId: string;
  protocolVersion: string;
  clientCapabilities: ClientCapabilities;
  clientInfo?: Implementation;
  /**
   * Set when `/mcp/{id}` relays messages to a Streamable HTTP upstream (transparent-relay.ts):
   * the upstream session this one is bound to (absent for a stateless upstream).
   */
  relay?: { upstreamSessionId?: string };
  createdAt: number;
}

export interface AgentSessions {
  create(fields: Omit<AgentSession, 'id' | 'createdAt'>): Promise<AgentSession>;
  /** The session, extending its idle expiry; `undefined` when unknown or expired. */
  find(id: string): Promise<AgentSession | undefined>;
  delete(id: string): Promise<void>;
  upstreamSession(id: string, upstreamId: string): Promise<UpstreamSession | undefined>;
  saveUpstreamSession(id: string, upstreamId: string, session: UpstreamSession | undefined): Promise<void>;
  upstreamSessions(id: string): Promise<Record<string, UpstreamSession>>;
  /**
   * Taken by the process that opens a new upstream session for this agent session, so that
   * two processes never open two (the others wait and re-attach to the one opened).
   */
  openLock(id: string, upstreamId: string, ttlMs: number): Promise<Lock | null>;
}

export function createAgentSessions(options: { store: Store; idleTtlMs: number }): AgentSessions {
  const { store, idleTtlMs } = options;
  // Every key of one session shares its hash tag: one Redis Cluster slot.
  const key = (id: string) => storeKey('mcp-session', id);
  const upstreamsKey = (id: string) => storeKey('mcp-session', id, 'upstreams');
  return {
    async create(fields) {
      const session: AgentSession = { ...fields, id: randomUUID(), createdAt: Date.now() };
      await setJson(store, key(session.id), session, { ttlMs: idleTtlMs });
      return session;
    },
    async find(id) {
      if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
      const raw = await store.getAndExtend(key(id), idleTtlMs);
      return raw === null ? undefined : (JSON.parse(raw) as AgentSession);
    },
    async delete(id) {
      await store.delete(key(id));
      await store.delete(upstreamsKey(id));
    },
    async upstreamSession(id, upstreamId) {
      return (await this.upstreamSessions(id))[upstreamId];
    },
    async saveUpstreamSession(id, upstreamId, session) {
      // Read-modify-write under compare-and-set: two processes may open different upstreams at once.
      for (let attempt = 0; attempt < 10; attempt++) {
        const raw = await store.get(upstreamsKey(id));
        const all = raw ? (JSON.parse(raw) as Record<string, UpstreamSession>) : {};
        if (session) all[upstreamId] = session;
        else delete all[upstreamId];
        if (await store.compareAndSet(upstreamsKey(id), raw, JSON.stringify(all), { ttlMs: idleTtlMs })) return;
      }
    },
    async upstreamSessions(id) {
      return (await getJson<Record<string, UpstreamSession>>(store, upstreamsKey(id))) ?? {};
    },
    openLock(id, upstreamId, ttlMs) {
      return store.acquireLock(storeKey('mcp-session', id, 'opening', upstreamId), ttlMs);
    },
  };
}

/** Records that an agent's MCP session started or ended: on `/mcp` (`aggregate`), or on `/mcp/{id}` for that upstream. */
export function auditSession(req: IncomingMessage, endpoint: string, sessionId: string, what: 'started' | 'ended'): void {
  auditRequest(
    req,
    {
      event: what === 'started' ? 'mcp_session_started' : 'mcp_session_ended',
      outcome: 'success',
      upstream: endpoint === 'aggregate' ? undefined : endpoint,
      details: { endpoint, mcpSession: sessionId },
    },
    `MCP session ${what}`,
  );
}
