import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import {
  CLIENT_CAPABILITIES_META_KEY,
  LATEST_PROTOCOL_VERSION,
  Server,
  SUPPORTED_PROTOCOL_VERSIONS,
  type ClientCapabilities,
  type Implementation,
  type JSONRPCMessage,
  type ServerCapabilities,
  type ServerNotification,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../config/schema.js';
import { createSealer } from '../crypto/seal.js';
import type { CredentialMinter } from '../credentials/credential-minter.js';
import type { UpstreamConnections } from '../credentials/connections.js';
import { compiledSchemas as jsonSchemaValidator } from '../../adapters/schema-validators.js';
import { UpstreamConnectRequiredError } from '../../adapters/upstream-errors.js';
import { HttpError, JSONRPC, JsonRpcHttpError } from '../http/errors.js';
import { runMiddleware, type Middleware } from '../http/middleware.js';
import { writeJson } from '../http/write-json.js';
import type { BearerGuard } from '../oauth/authorization-server.js';
import type { ResourceCatalog } from '../oauth/resources.js';
import type { RequestAuditor } from '../audit/request-audit.js';
import type { AuthContext } from '../oauth/bearer.js';
import { mayUseUpstream } from '../policy/access.js';
import type { Store } from '../store/store.js';
import { auditSession, createAgentSessions, type AgentSession } from './agent-sessions.js';
import { changeEvent, claimsModernEra, createModernEndpoint, statelessSession, type ListenScope } from './modern-era.js';
import { AppsInAggregate, type FetchAppPage } from './app-handlers.js';
import type { EndpointContext } from './endpoint-context.js';
import { originAllowed } from './origin.js';
import { registerPromptHandlers } from './prompt-handlers.js';
import { registerResourceHandlers } from './resource-handlers.js';
import { SessionHub, type InFlightRequest } from './session-hub.js';
import { paramHeadersOfTool, registerToolHandlers } from './tool-handlers.js';
import { ParamHeaderIndex } from './param-header-index.js';
import { mismatchRejection, paramHeaderMismatch, standardHeadersRejection, type HeaderRejection } from './standard-headers.js';
import { createEngineChoice } from './engine-choice.js';
import { createTransparentRelay, type StatelessOutcome, type TransparentRelay } from './transparent-relay.js';
import { createInputRounds } from './input-rounds.js';
import { MAX_NAME_LENGTH } from './naming.js';
import { createTaskHandles } from './task-handles.js';
import type { ToolPins } from '../governance/tool-pins.js';
import type { ToolApprovals } from '../governance/tool-approvals.js';
import type { ToolQuotas } from '../governance/tool-quotas.js';
import { TOOL_MODES, type ToolMode } from '../governance/tool-search.js';
import { registerTaskHandlers } from './task-handlers.js';
import { envelopeProblem } from './json-rpc-envelope.js';
import { createListCache } from './list-cache.js';
import { traceContextOf } from './trace-context.js';
import { createUpstreamEras } from './upstream-eras.js';
import { UpstreamPool, type ChangeFilter } from './upstream-pool.js';
import { authOf, contextOf } from '../http/request-context.js';

export interface McpEndpointsOptions {
  /** The bearer check every request passes first. */
  bearer: Pick<BearerGuard, 'authenticate'>;
  /** The protected resources the endpoints serve (RFC 9728). */
  resources: Pick<ResourceCatalog, 'aggregate' | 'find'>;
  issuer: string;
  store: Store;
  logger: Logger;
  /** The JSON body parser (size limit, 413 and 400 answers). */
  json: Middleware;
  /** The root secret: 2026 agents' `requestState` is sealed under a key derived from it. */
  secret: string;
  version: string;
  upstreams: () => UpstreamConfig[];
  /** Reads a page of an HTTP app as the caller, for the aggregate's `{id}__fetch` tools and page resources. */
  fetchAppPage: FetchAppPage;
  /** Browser origins allowed besides the portal's own and loopback ones (`mcp.allowed_origins`). */
  allowedOrigins?: readonly string[];
  /** An agent session unused this long ends. */
  sessionIdleMs?: number;
  /** The credential headers each upstream gets for the caller, and what to do when it refuses them. */
  credentials: CredentialMinter;
  /** People's connections to `oauth` upstreams: to wait for a connect the agent asked the person for. */
  connections: Pick<UpstreamConnections, 'waitForConnect'>;
  /** Pinned tool definitions (rug-pull protection), shared with the admin API. */
  pins: ToolPins;
  /** Per-person tool quotas and rate limits. */
  quotas: ToolQuotas;
  /** The person's approval of calls to sensitive tools (`tools.approval`). */
  approvals: ToolApprovals;
  /** `aggregate.max_tool_name_length` (default 64). */
  maxToolNameLength?: number;
  /** `aggregate.tool_mode` (default `all`); an agent may ask for the other with `/mcp?tools=`. */
  toolMode?: ToolMode;
}

const AGGREGATE = 'aggregate';
const AGGREGATE_CAPABILITIES: ServerCapabilities = {
  tools: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  prompts: { listChanged: true },
  logging: {},
  completions: {},
};
const AGGREGATE_INSTRUCTIONS =
  'Gatehouse aggregates the MCP servers you may use. Tool and prompt names are "{upstream}__{name}"; resource URIs are prefixed "gatehouse+{upstream}+". Every call acts as the person who authorized you.';

/**
 * What `/mcp/{id}` declares before the person has connected their account at its upstream: the
 * upstream's own capabilities are not known yet, and a tool call is where they are asked to connect.
 */
const CONNECT_FIRST_CAPABILITIES: ServerCapabilities = { tools: {} };

/** Who an endpoint says it is: the aggregate, or (transparent) its upstream. */
interface EndpointIdentity {
  info: Implementation;
  capabilities: ServerCapabilities;
  instructions?: string;
}

/** A 2025 agent's GET stream takes every list change its upstreams announce. */
const EVERY_LIST_CHANGE: ChangeFilter = { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true };

/** The listen filter as sent, keeping only well-formed fields (the SDK refuses a malformed one before any upstream is asked). */
function changeFilter(requested: unknown): ChangeFilter {
  const filter = (typeof requested === 'object' && requested !== null ? requested : {}) as Record<string, unknown>;
  const uris = Array.isArray(filter.resourceSubscriptions)
    ? filter.resourceSubscriptions.filter((uri): uri is string => typeof uri === 'string')
    : [];
  return {
    toolsListChanged: filter.toolsListChanged === true,
    promptsListChanged: filter.promptsListChanged === true,
    resourcesListChanged: filter.resourcesListChanged === true,
    ...(uris.length ? { resourceSubscriptions: uris } : {}),
  };
}

export interface McpEndpoints {
  /**
   * Serves one request of `/mcp` (`endpoint` = `aggregate`) or `/mcp/{id}` (the upstream id):
   * bearer check, body, Origin check, then the session's messages. Throws what the error
   * mapping answers (`writeError`).
   */
  handle(req: IncomingMessage, res: ServerResponse, endpoint: string): Promise<void>;
  close(): Promise<void>;
}

/** The endpoint a request path names: `aggregate` for `/mcp`, the upstream id for `/mcp/{id}`, else `undefined`. */
export function mcpEndpointOf(path: string): string | undefined {
  const match = /^\/mcp(?:\/([^/]+))?\/?$/.exec(path);
  if (!match) return undefined;
  if (match[1] === undefined) return AGGREGATE;
  try {
    const id = decodeURIComponent(match[1]);
    // No upstream is named so (the config refuses it): `/mcp/aggregate` is no endpoint.
    return id === AGGREGATE ? undefined : id;
  } catch {
    return undefined;
  }
}

/**
 * `/mcp` (the aggregate) and `/mcp/{id}` (one upstream, names unprefixed) over Streamable
 * HTTP, on `node:http` directly: the MCP endpoint is the portal's busiest path, and express's
 * per-request work was most of its cost. A transparent endpoint relays messages
 * (transparent-relay.ts) where its engine is the relay (engine-choice.ts); every other request is
 * served by a short-lived SDK `Server` bound to the agent session kept in the Store. Either way
 * any portal process serves any request of a session.
 */
export function createMcpEndpoints(options: McpEndpointsOptions): McpEndpoints {
  const { bearer, resources, issuer, store, logger, pins, quotas, approvals, credentials } = options;
  const maxToolNameLength = options.maxToolNameLength ?? MAX_NAME_LENGTH;
  const sessions = createAgentSessions({ store, idleTtlMs: options.sessionIdleMs ?? 60 * 60_000 });
  const hub = new SessionHub(store, logger);
  const lists = createListCache({ store, logger });
  const eras = createUpstreamEras(store);
  const pool = new UpstreamPool({ logger, sessions, hub, credentials, eras, lists });
  // `/mcp/{id}` relays messages where engine-choice.ts says so; the SDK path serves the rest.
  const relay = createTransparentRelay({ sessions, credentials, pins, quotas, approvals });
  const engines = createEngineChoice({ eras, relay, dropModernConnections: (upstreamId) => pool.dropModernConnections(upstreamId) });
  // An administrator's verdict on a tool changes what agents of that upstream may see.
  pins.onChange((upstreamId) => pool.announceToolsChanged(upstreamId));
  // MCP 2026-07-28 requests: no session, the SDK's per-request entry.
  const rounds = createInputRounds({ store, hub, sealer: createSealer(options.secret, 'mcp-request-state') });
  const tasks = createTaskHandles(createSealer(options.secret, 'mcp-task-handle'));
  const paramHeaders = new ParamHeaderIndex();
  const modern = createModernEndpoint({ onerror: (error) => logger.debug({ err: error }, 'MCP 2026 request refused or failed') });

  /** The aggregate's tool mode for this request: the agent's `?tools=` when it gave one, else the configured one. */
  function toolModeOf(req: IncomingMessage): ToolMode {
    const asked = new URL(req.url ?? '/', 'http://portal').searchParams.get('tools');
    if (asked === null) return options.toolMode ?? 'all';
    if ((TOOL_MODES as readonly string[]).includes(asked)) return asked as ToolMode;
    throw new JsonRpcHttpError(400, JSONRPC.invalidRequest, `Bad Request: tools must be one of ${TOOL_MODES.join(', ')}`);
  }

  /** The protected resource an endpoint serves (RFC 9728), if it is one. */
  function resourceOf(endpoint: string) {
    if (endpoint === AGGREGATE) return resources.aggregate();
    const resource = resources.find(`${issuer}/mcp/${endpoint}`);
    return resource?.kind === 'mcp' ? resource : undefined;
  }

  /** The upstreams of a kind this endpoint shows the caller: in the grant, allowed by policy, in config order. */
  function upstreamsInView(endpoint: string, auth: AuthContext, kind: 'mcp' | 'http' = 'mcp'): UpstreamConfig[] {
    return options
      .upstreams()
      .filter((u) => u.kind === kind && (endpoint === AGGREGATE || u.id === endpoint))
      .filter((u) => auth.upstreamIds.includes(u.id) && mayUseUpstream(auth.person, u));
  }

  /** The upstream of a transparent endpoint (`/mcp/{id}`) the caller may use, if this is one. */
  function transparentUpstream(endpoint: string, views: UpstreamConfig[]): UpstreamConfig | undefined {
    return endpoint === AGGREGATE ? undefined : views[0];
  }

  /** The upstream of a relayed session; refused when the person may no longer use it. */
  function relayTarget(req: IncomingMessage, session: AgentSession, views: UpstreamConfig[]): UpstreamConfig {
    return transparentUpstream(session.endpoint, views) ?? refuseUpstream(session, contextOf(req).audit);
  }

  /** The person may no longer use the upstream of a transparent endpoint: audited, and a 403. */
  function refuseUpstream(session: AgentSession, audit?: RequestAuditor): never {
    audit?.({
      event: 'policy_denied',
      outcome: 'denied',
      upstream: session.endpoint,
      details: { rule: 'access', endpoint: session.endpoint },
    });
    throw new JsonRpcHttpError(403, JSONRPC.invalidRequest, 'you may not use this upstream');
  }

  async function ownSession(req: IncomingMessage, endpoint: string, auth: AuthContext): Promise<AgentSession> {
    const id = req.headers['mcp-session-id'];
    if (typeof id !== 'string' || !id)
      throw new JsonRpcHttpError(400, JSONRPC.transportError, 'Bad Request: Mcp-Session-Id header is required');
    const session = await sessions.find(id);
    // Another person's (or another grant's) session is "not found": never its data.
    if (!session || session.endpoint !== endpoint || session.personId !== auth.person.id || session.grantId !== auth.grantId) {
      throw new JsonRpcHttpError(404, JSONRPC.sessionNotFound, 'Session not found');
    }
    return session;
  }

  /** An SDK server answering as this endpoint for one HTTP request, its handlers bound to `ctx`. */
  function endpointServer(identity: EndpointIdentity, ctx: EndpointContext): Server {
    const server = new Server(identity.info, {
      capabilities: identity.capabilities,
      instructions: identity.instructions,
      jsonSchemaValidator,
    });
    registerToolHandlers(server, ctx);
    registerResourceHandlers(server, ctx);
    registerPromptHandlers(server, ctx);
    registerTaskHandlers(server, ctx);
    server.onerror = (error) => ctx.logger.debug({ err: error }, 'MCP protocol error');
    return server;
  }

  function endpointContext(
    req: IncomingMessage,
    era: EndpointContext['era'],
    session: AgentSession,
    views: UpstreamConfig[],
    capabilities: ServerCapabilities,
    inFlight: InFlightRequest,
  ): EndpointContext {
    const auth = authOf(req);
    return {
      session,
      era,
      rounds: era === 'modern' ? rounds : undefined,
      tasks: era === 'modern' ? tasks : undefined,
      trace: traceContextOf(req),
      auth,
      upstreams: views,
      capabilities,
      naming: session.endpoint === AGGREGATE ? 'prefixed' : 'transparent',
      maxToolNameLength,
      toolMode: toolModeOf(req),
      apps:
        session.endpoint === AGGREGATE
          ? new AppsInAggregate(upstreamsInView(AGGREGATE, auth, 'http'), options.fetchAppPage, issuer, auth, maxToolNameLength)
          : undefined,
      pool,
      lists,
      pins,
      quotas,
      countedCalls: (contextOf(req).countedCalls ??= new Set()),
      approvals,
      logger: contextOf(req).log.child({ person: auth.person.id, clientId: auth.clientId, mcpSession: session.id }),
      inFlight,
      audit: contextOf(req).audit,
      connections: options.connections,
      askAgent: (message) => hub.relayRequest(inFlight, message),
    };
  }

  /** Serves one HTTP request of a session with a fresh SDK server over a stateless transport. */
  async function serve(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    session: AgentSession,
    views: UpstreamConfig[],
    identity: EndpointIdentity,
  ) {
    const messages = ([] as JSONRPCMessage[]).concat(body as JSONRPCMessage);
    const firstRequest = messages.find((m) => 'method' in m && 'id' in m) as { id: string | number } | undefined;
    const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    const inFlight: InFlightRequest = {
      sessionId: session.id,
      requestId: firstRequest?.id ?? 0,
      transport,
      sendNotification: (notification) =>
        transport.send({ jsonrpc: '2.0', ...notification } as JSONRPCMessage, { relatedRequestId: firstRequest?.id }),
    };
    const server = endpointServer(identity, endpointContext(req, 'legacy', session, views, identity.capabilities, inFlight));
    const untrack = await hub.track(inFlight);
    res.on('close', () => {
      // The store may be gone by now (shutdown): there is nothing left to unsubscribe from.
      untrack().catch(() => {});
      server.close().catch(() => {});
    });
    await server.connect(transport);
    // The SDK's node adapter flushes an SSE answer's headers on their own before the first event:
    // one more socket write per call (a fifth of the endpoint's CPU). Held back, they leave with
    // the first event, or the SDK's keep-alive comment within 15 s.
    res.flushHeaders = () => {};
    await transport.handleRequest(req, res, body);
  }

  /**
   * The SDK server that answers one stateless (MCP 2026-07-28) request: no agent session, the
   * grant's upstream sessions, the capabilities this path honours. Built only after the SDK has
   * checked the request (envelope, headers against body, version), so nothing reaches an upstream before.
   */
  async function statelessServer(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: string,
    auth: AuthContext,
    body: unknown,
  ): Promise<Server> {
    const views = upstreamsInView(endpoint, auth);
    const session = statelessSession(endpoint, auth, body);
    if (endpoint === AGGREGATE && (body as { method?: unknown }).method === 'server/discover')
      await pool.learnExtensions(session, views, auth);
    const identity = await identityFor(session, views, auth, contextOf(req).audit);
    const { capabilities } = identity;
    const requestId = (body as { id?: string | number }).id ?? 0;
    let server: Server | undefined;
    const inFlight: InFlightRequest = {
      sessionId: session.id,
      requestId,
      sendNotification: (notification) => server!.notification(notification as ServerNotification, { relatedRequestId: requestId }),
    };
    server = endpointServer({ ...identity, capabilities }, endpointContext(req, 'modern', session, views, capabilities, inFlight));
    const untrack = hub.trackLocal(inFlight);
    res.on('close', untrack);
    return server;
  }

  async function identityFor(
    session: AgentSession,
    views: UpstreamConfig[],
    auth: AuthContext,
    ctxAudit?: RequestAuditor,
  ): Promise<EndpointIdentity> {
    if (session.endpoint === AGGREGATE) {
      // The upstreams' extensions are the aggregate's too (an MCP Apps host looks for `io.modelcontextprotocol/ui`).
      const extensions = pool.extensionsOf(views);
      return {
        info: { name: 'gatehouse', version: options.version },
        capabilities: extensions ? { ...AGGREGATE_CAPABILITIES, extensions } : AGGREGATE_CAPABILITIES,
        instructions: AGGREGATE_INSTRUCTIONS,
      };
    }
    // Transparent: the upstream's own name, capabilities and instructions.
    const upstream = views[0] ?? refuseUpstream(session, ctxAudit);
    let connection;
    try {
      connection = await pool.connection(session, upstream, auth);
    } catch (error) {
      // The person's own account there is needed first: the endpoint answers as far as it can
      // without it, and a tool call asks them to connect (an elicitation, a round, or a tool error).
      if (error instanceof UpstreamConnectRequiredError)
        return { info: { name: upstream.id, version: '0' }, capabilities: CONNECT_FIRST_CAPABILITIES };
      throw new JsonRpcHttpError(502, JSONRPC.internalError, `upstream "${upstream.id}" is unavailable`, {
        internal: (error as Error).message,
      });
    }
    const { client } = connection;
    return {
      info: client.getServerVersion() ?? { name: upstream.id, version: '0' },
      capabilities: client.getServerCapabilities() ?? {},
      instructions: client.getInstructions(),
    };
  }

  async function post(req: IncomingMessage, res: ServerResponse, endpoint: string, auth: AuthContext, body: unknown) {
    const views = upstreamsInView(endpoint, auth);
    const problem = envelopeProblem(body ?? null);
    if (problem) throw new JsonRpcHttpError(400, JSONRPC.invalidRequest, `Invalid Request: ${problem}`);
    const messages = ([] as unknown[]).concat(body) as Array<Record<string, unknown>>;
    const initialize = messages.find((m) => m!.method === 'initialize');
    if (initialize) {
      const params = (initialize.params ?? {}) as {
        protocolVersion?: string;
        capabilities?: ClientCapabilities;
        clientInfo?: Implementation;
      };
      const requested = params.protocolVersion ?? LATEST_PROTOCOL_VERSION;
      const fields = {
        endpoint,
        personId: auth.person.id,
        clientId: auth.clientId,
        grantId: auth.grantId,
        protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION,
        clientCapabilities: params.capabilities ?? {},
        clientInfo: params.clientInfo,
      };
      const upstream = transparentUpstream(endpoint, views);
      if (
        upstream &&
        (await engines.forSession(upstream, fields.protocolVersion)) === 'relay' &&
        (await relay.initialize(req, res, body, upstream, fields))
      )
        return;
      const session = await sessions.create(fields);
      try {
        if (endpoint === AGGREGATE) await pool.learnExtensions(session, views, auth);
        const identity = await identityFor(session, views, auth, contextOf(req).audit);
        res.setHeader('Mcp-Session-Id', session.id);
        auditSession(req, endpoint, session.id, 'started');
        await serve(req, res, body, session, views, identity);
      } catch (error) {
        await sessions.delete(session.id);
        throw error;
      }
      return;
    }
    const session = await ownSession(req, endpoint, auth);
    if (session.relay) return relay.post(req, res, body, session, relayTarget(req, session, views));
    const hasRequest = messages.some((m) => 'method' in m! && 'id' in m!);
    if (!hasRequest) {
      // Responses and notifications: hand them to whichever process serves the request they concern.
      const relayed = messages.filter((m) => m!.method !== 'notifications/initialized') as JSONRPCMessage[];
      if (relayed.length) await hub.publishInbound(session.id, relayed);
      res.writeHead(202).end();
      return;
    }
    await serve(req, res, body, session, views, await identityFor(session, views, auth, contextOf(req).audit));
  }

  /** Answers a stateless request with the refusal the SDK's entry would give. */
  function refuse(res: ServerResponse, body: unknown, { status, error }: HeaderRejection): void {
    const id = (body as { id?: unknown } | undefined)?.id;
    writeJson(res, status, { jsonrpc: '2.0', id: typeof id === 'string' || typeof id === 'number' ? id : null, error });
  }

  /** Relays a stateless request the SDK's checks pass; see {@link TransparentRelay.stateless} for the outcomes that answered nothing. */
  async function relayStateless(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    upstream: UpstreamConfig,
  ): Promise<StatelessOutcome> {
    const meta = (body as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
    return relay.stateless(req, res, body, upstream, (meta?.[CLIENT_CAPABILITIES_META_KEY] ?? {}) as ClientCapabilities);
  }

  /**
   * A 2026 agent's `tools/call` on the SDK path whose `Mcp-Param-*` headers disagree with its
   * arguments, by the `x-mcp-header` declarations of the upstream's own tool: the refusal, before
   * the call reaches the upstream (whose own headers the portal's client derives from the arguments).
   */
  async function paramHeadersRejection(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: string,
    auth: AuthContext,
    body: unknown,
  ): Promise<HeaderRejection | undefined> {
    const { method, id, params } = body as { method?: unknown; id?: string | number; params?: { name?: unknown; arguments?: unknown } };
    if (method !== 'tools/call' || typeof params?.name !== 'string') return undefined;
    const session = statelessSession(endpoint, auth, body);
    const inFlight: InFlightRequest = { sessionId: session.id, requestId: id ?? 0, sendNotification: async () => {} };
    // Only names are resolved and tools listed here: no capability is served.
    const ctx = endpointContext(req, 'modern', session, upstreamsInView(endpoint, auth), {}, inFlight);
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    const check = async (fresh: boolean) => {
      const declarations = await paramHeadersOfTool(ctx, paramHeaders, params.name as string, gone.signal, fresh);
      return declarations && paramHeaderMismatch(declarations, params.arguments, req.headers);
    };
    // A disagreement by what this process remembers of the tool is confirmed against its listing now.
    const mismatch = (await check(false)) && (await check(true));
    return mismatch ? mismatchRejection(mismatch) : undefined;
  }

  /**
   * Where a 2026 agent's `subscriptions/listen` stream gets its changes: the notifications that
   * the grant's upstream connections publish (from whichever process holds them), as change events.
   */
  function listenScope(endpoint: string, auth: AuthContext, body: unknown): ListenScope | undefined {
    // The body may be missing: a POST that was not sent as JSON is the SDK's to refuse.
    const { method, params } = (body ?? {}) as { method?: unknown; params?: { notifications?: ChangeFilter } };
    if (method !== 'subscriptions/listen') return undefined;
    const session = statelessSession(endpoint, auth, body);
    return {
      key: session.id,
      feed: (bus) =>
        hub.subscribeOutbound(session.id, (notification) => {
          const event = changeEvent(notification as { method: string; params?: { uri?: unknown } });
          if (event) bus.publish(event);
        }),
      watch: () => pool.watch(session, upstreamsInView(endpoint, auth), auth, changeFilter(params?.notifications)),
    };
  }

  async function get(req: IncomingMessage, res: ServerResponse, endpoint: string, auth: AuthContext) {
    const session = await ownSession(req, endpoint, auth);
    const views = upstreamsInView(endpoint, auth);
    if (session.relay) return relay.get(req, res, session, relayTarget(req, session, views));
    const server = new Server(
      { name: 'gatehouse', version: options.version },
      { capabilities: AGGREGATE_CAPABILITIES, jsonSchemaValidator },
    );
    const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await server.connect(transport);
    const unsubscribe = await hub.subscribeOutbound(session.id, (notification) => {
      void server.notification(notification as ServerNotification).catch(() => {});
    });
    res.on('close', () => {
      unsubscribe().catch(() => {});
      server.close().catch(() => {});
    });
    // Keep the upstream connections open while the agent listens, so their notifications flow.
    const unwatch = pool.watch(session, views, auth, EVERY_LIST_CHANGE);
    res.on('close', () => void unwatch.then((stop) => stop()).catch(() => {}));
    await transport.handleRequest(req, res);
  }

  async function remove(req: IncomingMessage, res: ServerResponse, endpoint: string, auth: AuthContext) {
    const session = await ownSession(req, endpoint, auth);
    const views = upstreamsInView(endpoint, auth);
    if (session.relay) await relay.terminate(req, session, relayTarget(req, session, views));
    else await pool.terminateSession(session, views, auth);
    await sessions.delete(session.id);
    auditSession(req, endpoint, session.id, 'ended');
    res.writeHead(200).end();
  }

  return {
    async handle(req, res, endpoint) {
      const resource = resourceOf(endpoint);
      if (!resource) throw new HttpError(404, 'not_found', 'no such MCP endpoint');
      const auth = await bearer.authenticate(req, { resource, upstreamId: endpoint === AGGREGATE ? undefined : endpoint });
      // An unknown `?tools=` is refused before anything else happens.
      if (endpoint === AGGREGATE) toolModeOf(req);
      await runMiddleware([options.json], req, res);
      const { body } = req as { body?: unknown };
      if (!originAllowed(req.headers.origin, issuer, options.allowedOrigins ?? [])) {
        throw new JsonRpcHttpError(403, JSONRPC.transportError, 'Forbidden: this Origin may not call the MCP endpoint');
      }
      if (claimsModernEra(req, body)) {
        // A request the SDK's entry refuses is left to it; one it accepts is relayed or checked further here.
        const rejected = standardHeadersRejection(req, body);
        const upstream = rejected ? undefined : transparentUpstream(endpoint, upstreamsInView(endpoint, auth));
        if (upstream && (await engines.forStateless(req, upstream, body)) === 'relay') {
          const outcome = await relayStateless(req, res, body, upstream);
          if (outcome === 'answered') return;
          await engines.relayDeclined(upstream, outcome);
        }
        const mismatch = rejected ? undefined : await paramHeadersRejection(req, res, endpoint, auth, body);
        if (mismatch) return refuse(res, body, mismatch);
        return modern.serve(req, res, body, () => statelessServer(req, res, endpoint, auth, body), listenScope(endpoint, auth, body));
      }
      if (req.method === 'POST') await post(req, res, endpoint, auth, body);
      else if (req.method === 'GET') await get(req, res, endpoint, auth);
      else if (req.method === 'DELETE') await remove(req, res, endpoint, auth);
      else throw new JsonRpcHttpError(405, JSONRPC.transportError, 'Method not allowed', { headers: { Allow: 'GET, POST, DELETE' } });
    },
    close: async () => {
      rounds.close();
      await modern.close();
      await lists.close();
      await hub.close();
      await pool.close();
    },
  };
}
