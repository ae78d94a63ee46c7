import type { IncomingMessage, ServerResponse } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  SUPPORTED_PROTOCOL_VERSIONS,
  createMcpHandler,
  type AuthInfo,
  type Implementation,
  type Server,
} from '@modelcontextprotocol/server';
import { sha256 } from '../crypto/hash.js';
import type { AuthContext } from '../oauth/bearer.js';
import type { AgentSession } from './agent-sessions.js';

/** Methods that exist only in MCP 2026-07-28: a request naming one is answered by the stateless path, claim or not. */
const MODERN_ONLY_METHODS = new Set(['server/discover', 'subscriptions/listen']);

/**
 * Whether a request is for the MCP 2026-07-28 (stateless) path: it claims a 2026-era protocol
 * version in `_meta` or in `MCP-Protocol-Version`, or names a 2026-only method. Everything else
 * keeps the session protocol. A cheap look at the parsed body: the SDK's own classification and
 * validation (envelope, headers against body, version) run on the stateless path.
 */
export function claimsModernEra(req: IncomingMessage, body: unknown): boolean {
  const header = req.headers['mcp-protocol-version'];
  if (typeof header === 'string' && header >= '2026') return true;
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const { method, params } = body as { method?: unknown; params?: { _meta?: unknown } };
  if (typeof method === 'string' && MODERN_ONLY_METHODS.has(method)) return true;
  const meta = params?._meta;
  return typeof meta === 'object' && meta !== null && PROTOCOL_VERSION_META_KEY in meta;
}

/**
 * The agent session a stateless (2026-era) request is served in. It is never stored: its id
 * names the upstream sessions the portal keeps for this grant at this endpoint, so that one
 * person's calls (and one agent's) never land in another's upstream session, and any portal
 * process finds them in the Store. The upstream sees no client capabilities: a 2026 agent
 * takes no server→client requests on this path.
 */
export function statelessSession(endpoint: string, auth: AuthContext, body: unknown): AgentSession {
  const meta = (body as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
  const clientInfo = meta?.[CLIENT_INFO_META_KEY] as Implementation | undefined;
  return {
    id: `grant-${sha256(`${auth.grantId}\n${endpoint}`).slice(0, 32)}`,
    endpoint,
    personId: auth.person.id,
    clientId: auth.clientId,
    grantId: auth.grantId,
    protocolVersion: SUPPORTED_PROTOCOL_VERSIONS[0]!,
    clientCapabilities: {},
    clientInfo: clientInfo && typeof clientInfo.name === 'string' && typeof clientInfo.version === 'string' ? { name: clientInfo.name, version: clientInfo.version } : undefined,
    createdAt: 0,
  };
}

/** Builds the SDK server that answers one stateless request, once the SDK has checked the request. */
export type BuildServer = () => Promise<Server>;

/** Serves MCP 2026-07-28 requests through the SDK's per-request entry (`createMcpHandler`). */
export interface ModernEndpoint {
  serve(req: IncomingMessage, res: ServerResponse, body: unknown, build: BuildServer): Promise<void>;
  close(): Promise<void>;
}

export function createModernEndpoint(options: { onerror: (error: Error) => void }): ModernEndpoint {
  // The factory gets the request's own server builder through `authInfo` (the entry passes it through untouched).
  const handler = createMcpHandler(({ authInfo }) => (authInfo?.extra?.build as BuildServer)(), { legacy: 'reject', onerror: options.onerror });
  const node = toNodeHandler({ fetch: (request, requestOptions) => handler.fetch(request, requestOptions).then(namingEveryVersion) }, { onerror: options.onerror });
  return {
    async serve(req, res, body, build) {
      const auth = req.authContext!;
      const authInfo: AuthInfo = { token: '', clientId: auth.clientId, scopes: auth.scope, extra: { build } };
      (req as IncomingMessage & { auth?: AuthInfo }).auth = authInfo;
      await node(req, res, body);
    },
    close: () => handler.close(),
  };
}

/**
 * `UnsupportedProtocolVersion` (-32022) from the SDK names the 2026 versions only; this endpoint
 * also speaks the session protocol's versions, so the answer names every one.
 */
async function namingEveryVersion(response: Response): Promise<Response> {
  if (response.status !== 400 || !response.headers.get('content-type')?.includes('application/json')) return response;
  const text = await response.text();
  try {
    const message = JSON.parse(text) as { error?: { code?: number; data?: { supported?: string[] } } };
    const supported = message.error?.data?.supported;
    if (message.error?.code === -32022 && Array.isArray(supported)) {
      message.error.data!.supported = [...supported, ...SUPPORTED_PROTOCOL_VERSIONS.filter((v) => !supported.includes(v))];
      return new Response(JSON.stringify(message), { status: 400, headers: response.headers });
    }
  } catch {
    // Not JSON after all: passed on as it came.
  }
  return new Response(text, { status: response.status, headers: response.headers });
}
