import type { IncomingMessage, ServerResponse } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  InMemoryServerEventBus,
  SUPPORTED_PROTOCOL_VERSIONS,
  createMcpHandler,
  isSpecType,
  type AuthInfo,
  type ClientCapabilities,
  type Implementation,
  type McpHttpHandler,
  type Server,
  type ServerEvent,
  type ServerEventBus,
} from '@modelcontextprotocol/server';
import { canonicalJson } from '../audit/chain.js';
import { sha256 } from '../crypto/hash.js';
import type { AuthContext } from '../oauth/bearer.js';
import type { AgentSession } from './agent-sessions.js';
import { authOf } from '../http/request-context.js';

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
 * names the upstream sessions the portal keeps for this grant at this endpoint and this set of
 * client capabilities, so that one person's calls (and one agent's) never land in another's
 * upstream session, any portal process finds them in the Store, and the upstream is told exactly
 * what the agent can be asked (elicitation, sampling, roots) and which extensions it speaks.
 */
export function statelessSession(endpoint: string, auth: AuthContext, body: unknown): AgentSession {
  const meta = (body as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
  const clientInfo = meta?.[CLIENT_INFO_META_KEY] as Implementation | undefined;
  const clientCapabilities = upstreamCapabilities(meta?.[CLIENT_CAPABILITIES_META_KEY]);
  return {
    id: `grant-${sha256(`${auth.grantId}\n${endpoint}\n${canonicalJson(clientCapabilities)}`).slice(0, 32)}`,
    endpoint,
    personId: auth.person.id,
    clientId: auth.clientId,
    grantId: auth.grantId,
    protocolVersion: SUPPORTED_PROTOCOL_VERSIONS[0]!,
    clientCapabilities,
    clientInfo:
      clientInfo && typeof clientInfo.name === 'string' && typeof clientInfo.version === 'string'
        ? { name: clientInfo.name, version: clientInfo.version }
        : undefined,
    createdAt: 0,
  };
}

/** The agent's capabilities an upstream may know of: what it can be asked mid-call, and its extensions. */
function upstreamCapabilities(declared: unknown): ClientCapabilities {
  const capabilities = (typeof declared === 'object' && declared !== null ? declared : {}) as Record<string, unknown>;
  const kept: Record<string, unknown> = {};
  for (const name of ['elicitation', 'sampling', 'roots', 'extensions']) {
    const value = capabilities[name];
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) kept[name] = value;
  }
  return kept as ClientCapabilities;
}

/** Builds the SDK server that answers one stateless request, once the SDK has checked the request. */
export type BuildServer = () => Promise<Server>;

/**
 * Where a `subscriptions/listen` stream's events come from: one agent's scope (a grant at an
 * endpoint), so that one person's changes never reach another's stream.
 */
export interface ListenScope {
  key: string;
  /** Starts feeding the scope's change events into `bus` (once for all its streams); resolves a function that stops it. */
  feed(bus: ServerEventBus): Promise<() => Promise<void>>;
  /** Asks the upstreams for what this one stream listens for; resolves a function that stops asking. */
  watch(): Promise<() => Promise<void>>;
}

/** Serves MCP 2026-07-28 requests through the SDK's per-request entry (`createMcpHandler`). */
export interface ModernEndpoint {
  serve(req: IncomingMessage, res: ServerResponse, body: unknown, build: BuildServer, listen?: ListenScope): Promise<void>;
  close(): Promise<void>;
}

interface ListeningScope {
  handler: McpHttpHandler;
  node: ReturnType<typeof toNodeHandler>;
  streams: number;
  stopFeed: Promise<() => Promise<void>>;
}

export function createModernEndpoint(options: { onerror: (error: Error) => void }): ModernEndpoint {
  const { onerror } = options;
  // The factory gets the request's own server builder through `authInfo` (the entry passes it through untouched).
  const entry = (bus?: ServerEventBus) =>
    createMcpHandler(({ authInfo }) => (authInfo!.extra!.build as BuildServer)(), { legacy: 'reject', onerror, bus });
  const toNode = (handler: McpHttpHandler) => toNodeHandler(handler, { onerror });
  const handler = entry();
  const node = toNode(handler);
  // The SDK's listen router delivers a bus's events to every stream on its entry: one entry (and bus) per scope.
  const listening = new Map<string, ListeningScope>();

  function listeningScope(scope: ListenScope): ListeningScope {
    let found = listening.get(scope.key);
    if (!found) {
      const bus = new InMemoryServerEventBus(onerror);
      const scoped = entry(bus);
      const stopFeed = scope.feed(bus);
      stopFeed.catch(onerror);
      found = { handler: scoped, node: toNode(scoped), streams: 0, stopFeed };
      listening.set(scope.key, found);
    }
    return found;
  }

  async function endListening(key: string, scoped: ListeningScope): Promise<void> {
    if (--scoped.streams > 0 || listening.get(key) !== scoped) return;
    await stopListening(key, scoped);
  }

  async function stopListening(key: string, scoped: ListeningScope): Promise<void> {
    listening.delete(key);
    await (await scoped.stopFeed.catch(() => async () => {}))();
    await scoped.handler.close();
  }

  return {
    async serve(req, res, body, build, listen) {
      const auth = authOf(req);
      const withAuth = (built: BuildServer) => {
        const authInfo: AuthInfo = { token: '', clientId: auth.clientId, scopes: auth.scope, extra: { build: built } };
        (req as IncomingMessage & { auth?: AuthInfo }).auth = authInfo;
      };
      if (!listen) {
        withAuth(build);
        return node(req, res, body);
      }
      // The upstreams are asked only once the SDK has accepted the listen request (it builds the
      // server then), and the server is handed over once they listen: the SDK acknowledges the
      // subscription when it has the server, and an acknowledged subscription must already hear
      // changes. An upstream that cannot be reached is left out after its connect timeout.
      let unwatch: Promise<() => Promise<void>> | undefined;
      const scoped = listeningScope(listen);
      withAuth(async () => {
        // A listen request the SDK is about to refuse (a malformed filter) asks no upstream.
        if (!isSpecType.SubscriptionsListenRequest(body)) return build();
        unwatch = listen.watch().catch((error: Error) => {
          onerror(error);
          return async () => {};
        });
        // The scope's feed too: the change may be heard by another process and reach this one through the store.
        const [server] = await Promise.all([build(), unwatch, scoped.stopFeed.catch(() => undefined)]);
        return server;
      });
      scoped.streams++;
      res.on('close', () => {
        void unwatch?.then((stop) => stop()).catch(onerror);
        void endListening(listen.key, scoped).catch(onerror);
      });
      await scoped.node(req, res, body);
    },
    async close() {
      await Promise.allSettled([...listening.entries()].map(([key, scoped]) => stopListening(key, scoped)));
      await handler.close();
    },
  };
}

/** The change a notification announces, as the SDK's listen router takes it; `undefined` for any other notification. */
export function changeEvent(notification: { method: string; params?: { uri?: unknown } }): ServerEvent | undefined {
  switch (notification.method) {
    case 'notifications/tools/list_changed':
      return { kind: 'tools_list_changed' };
    case 'notifications/prompts/list_changed':
      return { kind: 'prompts_list_changed' };
    case 'notifications/resources/list_changed':
      return { kind: 'resources_list_changed' };
    case 'notifications/resources/updated':
      return typeof notification.params?.uri === 'string' ? { kind: 'resource_updated', uri: notification.params.uri } : undefined;
    default:
      return undefined;
  }
}
