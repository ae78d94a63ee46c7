import {
  ProtocolError,
  ProtocolErrorCode,
  SUBSCRIPTION_ID_META_KEY,
  type Notification,
  type ServerCapabilities,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import {
  createMcpUpstream,
  type McpUpstream,
  type McpUpstreamConnection,
  type UpstreamEraCache,
  type UpstreamSession,
} from '../../adapters/mcp-upstream.js';
import type { UpstreamConfig } from '../config/schema.js';
import { sha256 } from '../crypto/hash.js';
import type { CredentialMinter } from '../credentials/credential-minter.js';
import type { AuthContext } from '../oauth/bearer.js';
import type { AgentSession, AgentSessions } from './agent-sessions.js';
import type { ListCache } from './list-cache.js';
import { parsePrefixedUri, prefixedUri } from './naming.js';
import type { SessionHub } from './session-hub.js';
import { activeTraceHeaders } from '../tracing/spans.js';

/** Upstream connections are kept this long after their last use by a session in this process. */
const IDLE_MS = 5 * 60_000;

interface PooledConnection {
  connection: Promise<McpUpstreamConnection>;
  /** The agent session the connection serves. */
  session: AgentSession;
  /** The caller of the latest request: credentials are minted for them, fresh on every upstream HTTP request. */
  auth: AuthContext;
  idleTimer?: NodeJS.Timeout;
  /** Agent streams listening through this connection: it is not closed for idleness while any is open. */
  watchers: number;
}

/** What an agent listens for (MCP 2026-07-28 `subscriptions/listen` filter; a 2025 GET stream is every list change). */
export interface ChangeFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
  /** Resource URIs as the agent sees them (prefixed on the aggregate). */
  resourceSubscriptions?: string[];
}

/**
 * This process's connections to upstream MCP servers, one per (agent session, upstream),
 * re-attaching to the upstream session another process opened. Upstream traffic goes back
 * to the agent: progress to the request that asked for it, server→client requests to the
 * request in progress at that upstream, other notifications to the session's GET stream.
 */
export class UpstreamPool {
  readonly #upstreams = new Map<string, { fingerprint: string; upstream: McpUpstream }>();
  readonly #connections = new Map<string, PooledConnection>();
  /** Each upstream's `extensions` capability as last seen by this process (for the aggregate's own); `null`: it declared none. */
  readonly #extensions = new Map<string, Extensions | null>();

  constructor(
    private readonly deps: {
      logger: Logger;
      sessions: AgentSessions;
      hub: SessionHub;
      credentials: CredentialMinter;
      eras: UpstreamEraCache;
      lists: ListCache;
    },
  ) {}

  /** The session's connection to `upstream`, opened (or re-attached) on first use in this process. */
  async connection(session: AgentSession, upstream: UpstreamConfig, auth: AuthContext): Promise<McpUpstreamConnection> {
    return this.#pooled(session, upstream, auth).connection;
  }

  #pooled(session: AgentSession, upstream: UpstreamConfig, auth: AuthContext): PooledConnection {
    const key = `${session.id}\n${upstream.id}`;
    let pooled = this.#connections.get(key);
    if (pooled) {
      pooled.auth = auth;
    } else {
      pooled = { auth, session, connection: Promise.resolve(undefined as never), watchers: 0 };
      pooled.connection = this.#open(session, upstream, pooled, key);
      this.#connections.set(key, pooled);
      pooled.connection.catch(() => this.#connections.delete(key));
    }
    this.#idleLater(pooled, key);
    return pooled;
  }

  #idleLater(pooled: PooledConnection, key: string): void {
    clearTimeout(pooled.idleTimer);
    if (pooled.watchers === 0) pooled.idleTimer = setTimeout(() => void this.#drop(key, 'close'), IDLE_MS).unref();
  }

  /**
   * Keeps the session's upstream connections open while an agent listens, and asks each upstream
   * for the changes it listens for: an MCP 2026-07-28 upstream through `subscriptions/listen`, a
   * session-protocol one through `resources/subscribe` (its list changes come on its GET stream
   * anyway). Changes reach the agent through {@link SessionHub.subscribeOutbound}. Resolves a
   * function that stops listening; an upstream that cannot be reached is left out with a warning.
   */
  async watch(session: AgentSession, upstreams: UpstreamConfig[], auth: AuthContext, filter: ChangeFilter): Promise<() => Promise<void>> {
    const stops = await Promise.all(
      upstreams.map(async (upstream) => {
        const key = `${session.id}\n${upstream.id}`;
        const pooled = this.#pooled(session, upstream, auth);
        pooled.watchers++;
        clearTimeout(pooled.idleTimer);
        const release = async () => {
          pooled.watchers--;
          this.#idleLater(pooled, key);
        };
        try {
          const connection = await pooled.connection;
          const stopUpstream = await this.#listenUpstream(connection, session, upstream, filter);
          return async () => {
            await stopUpstream().catch(() => {});
            await release();
          };
        } catch (error) {
          this.deps.logger.warn({ upstream: upstream.id, err: error }, 'upstream left out of a listening agent: unavailable');
          return release;
        }
      }),
    );
    return async () => {
      await Promise.all(stops.map((stop) => stop()));
    };
  }

  async #listenUpstream(
    connection: McpUpstreamConnection,
    session: AgentSession,
    upstream: UpstreamConfig,
    filter: ChangeFilter,
  ): Promise<() => Promise<void>> {
    const { client } = connection;
    const capabilities = client.getServerCapabilities() ?? {};
    const uris = (filter.resourceSubscriptions ?? []).flatMap((uri) => {
      if (session.endpoint !== 'aggregate') return [uri];
      const parsed = parsePrefixedUri(uri);
      return parsed?.upstreamId === upstream.id ? [parsed.uri] : [];
    });
    if (client.getProtocolEra() === 'modern') {
      const wanted = {
        ...(filter.toolsListChanged && capabilities.tools?.listChanged ? { toolsListChanged: true } : {}),
        ...(filter.promptsListChanged && capabilities.prompts?.listChanged ? { promptsListChanged: true } : {}),
        ...(filter.resourcesListChanged && capabilities.resources?.listChanged ? { resourcesListChanged: true } : {}),
        ...(uris.length && capabilities.resources?.subscribe ? { resourceSubscriptions: uris } : {}),
      };
      if (Object.keys(wanted).length === 0) return async () => {};
      const subscription = await client.listen(wanted);
      return () => subscription.close();
    }
    if (capabilities.resources?.subscribe) await Promise.all(uris.map((uri) => client.subscribeResource({ uri })));
    // The session's list changes come on its event stream: listening means that stream is open.
    if (connection.eventStream) await settledWithin(connection.eventStream, upstream.connectTimeoutMs);
    return async () => {};
  }

  /**
   * The extensions (`io.modelcontextprotocol/ui`, …) these upstreams declared, merged: what this
   * process has seen of them so far (an upstream not yet reached adds nothing until it is).
   */
  extensionsOf(upstreams: UpstreamConfig[]): Extensions | undefined {
    let merged: Extensions | undefined;
    for (const upstream of upstreams) {
      const extensions = this.#extensions.get(upstream.id);
      if (extensions) merged = { ...merged, ...extensions };
    }
    return merged;
  }

  /**
   * Reaches the upstreams this process has not reached yet, so that {@link extensionsOf} knows
   * what every one declares before the aggregate says what it supports (`server/discover`,
   * `initialize`). One that cannot be reached adds nothing, and is tried again next time; one
   * slower than `waitMs` is not waited for (it adds its extensions once it answers).
   */
  async learnExtensions(session: AgentSession, upstreams: UpstreamConfig[], auth: AuthContext, waitMs = 2_000): Promise<void> {
    const reaching = Promise.allSettled(
      upstreams.filter((upstream) => !this.#extensions.has(upstream.id)).map((upstream) => this.connection(session, upstream, auth)),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([reaching, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  /**
   * Tells the agents whose sessions this process connects to `upstreamId` that their tool list
   * changed: the portal changed what they may see of it (an administrator approved or rejected
   * a tool), though the upstream did not.
   */
  announceToolsChanged(upstreamId: string): void {
    for (const [key, pooled] of this.#connections) {
      if (!key.endsWith(`\n${upstreamId}`)) continue;
      this.deps.hub
        .publishOutbound(pooled.session.id, { method: 'notifications/tools/list_changed' })
        .catch((error: unknown) => this.deps.logger.warn({ err: error, upstream: upstreamId }, 'tools list change not announced'));
    }
  }

  /** Ends the session's upstream sessions (HTTP DELETE upstream) and forgets them. */
  async terminateSession(session: AgentSession, upstreams: UpstreamConfig[], auth: AuthContext): Promise<void> {
    const known = await this.deps.sessions.upstreamSessions(session.id);
    await Promise.allSettled(
      upstreams
        .filter((u) => known[u.id] || this.#connections.has(`${session.id}\n${u.id}`))
        .map(async (upstream) => {
          const connection = await this.connection(session, upstream, auth);
          await connection.terminate();
          this.#connections.delete(`${session.id}\n${upstream.id}`);
        }),
    );
  }

  /**
   * The upstream was found no longer to speak MCP 2026-07-28: this process's stateless
   * connections to it are closed, so the next request connects afresh (and probes its era again).
   */
  async dropModernConnections(upstreamId: string): Promise<void> {
    const keys = [...this.#connections.keys()].filter((key) => key.endsWith(`\n${upstreamId}`));
    await Promise.all(
      keys.map(async (key) => {
        const connection = await this.#connections.get(key)?.connection.catch(() => undefined);
        if (connection?.client.getProtocolEra() === 'modern') await this.#drop(key, 'close');
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#connections.keys()].map((key) => this.#drop(key, 'close')));
    await Promise.allSettled([...this.#upstreams.values()].map(({ upstream }) => upstream.close()));
  }

  async #open(session: AgentSession, config: UpstreamConfig, pooled: PooledConnection, key: string): Promise<McpUpstreamConnection> {
    const { sessions } = this.deps;
    let resume = await sessions.upstreamSession(session.id, config.id);
    if (resume || config.command) return this.#connect(session, config, pooled, key, resume);
    // No upstream session yet: one process opens it, the others wait for it and re-attach.
    const deadline = Date.now() + config.connectTimeoutMs;
    for (;;) {
      const lock = await sessions.openLock(session.id, config.id, config.connectTimeoutMs + 5_000);
      if (lock) {
        try {
          resume = await sessions.upstreamSession(session.id, config.id);
          return await this.#connect(session, config, pooled, key, resume);
        } finally {
          await lock.release();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      resume = await sessions.upstreamSession(session.id, config.id);
      if (resume || Date.now() > deadline) return this.#connect(session, config, pooled, key, resume);
    }
  }

  async #connect(
    session: AgentSession,
    config: UpstreamConfig,
    pooled: PooledConnection,
    key: string,
    resume: UpstreamSession | undefined,
  ): Promise<McpUpstreamConnection> {
    const { sessions, hub, logger } = this.deps;
    // Assigned once connected; the upstream's requests only come after that.
    let connection: McpUpstreamConnection | undefined;
    connection = await this.#upstream(config).connect({
      ownerKey: session.personId,
      // Asked before every request to the upstream, inside the span of the call it belongs to.
      headers: async () => ({ ...(await this.deps.credentials.headersFor(config, pooled.auth)), ...activeTraceHeaders() }),
      // A refused credential: refresh and retry once (oauth), or log a configuration error.
      onAuthChallenge: (challenge) => this.deps.credentials.answerChallenge(config, pooled.auth, challenge),
      resume,
      clientCapabilities: session.clientCapabilities,
      clientInfo: session.clientInfo,
      protocolVersion: session.protocolVersion,
      onNotification: (notification) => this.#relayNotification(session, config.id, notification),
      onRequest: async (request, extra) => {
        const target = hub.requestTo(session.id, config.id);
        if (!target) throw new ProtocolError(ProtocolErrorCode.InvalidRequest, 'no agent request is in progress to relay this to');
        // A 2026 upstream's input request comes with its key (as the request id): the agent sees the same key.
        const key = connection?.client.getProtocolEra() === 'modern' ? String(extra.mcpReq.id) : undefined;
        return hub.relayRequest(target, { method: request.method, params: request.params }, key);
      },
      onClose: (error) => {
        if (error) logger.warn({ upstream: config.id, errorCode: error.code }, 'upstream connection ended');
        if (this.#connections.get(key) === pooled) this.#connections.delete(key);
      },
    });
    if (connection.session?.sessionId !== resume?.sessionId) await sessions.saveUpstreamSession(session.id, config.id, connection.session);
    const extensions = connection.client.getServerCapabilities()?.extensions;
    this.#extensions.set(config.id, extensions ?? null);
    return connection;
  }

  async #relayNotification(session: AgentSession, upstreamId: string, notification: Notification): Promise<void> {
    const { hub } = this.deps;
    if (notification.method === 'notifications/progress') {
      const token = notification.params?.progressToken as string | number | undefined;
      const request = token === undefined ? undefined : hub.withProgressToken(session.id, token);
      await request?.sendNotification(notification).catch(() => {});
      return;
    }
    this.deps.lists.noticed(upstreamId, notification.method);
    const aggregate = session.endpoint === 'aggregate';
    // The upstream's own listen subscription id means nothing to the agent.
    let relayed = withoutSubscriptionId(notification);
    if (aggregate && relayed.method === 'notifications/resources/updated' && typeof relayed.params?.uri === 'string') {
      relayed = { ...relayed, params: { ...relayed.params, uri: prefixedUri(upstreamId, relayed.params.uri) } };
    } else if (aggregate && relayed.method === 'notifications/message') {
      relayed = { ...relayed, params: { ...relayed.params, logger: upstreamId } };
    }
    await hub.publishOutbound(session.id, relayed);
  }

  /** The adapter of an upstream; rebuilt when its configuration changes. */
  #upstream(config: UpstreamConfig): McpUpstream {
    const fingerprint = JSON.stringify(config);
    const known = this.#upstreams.get(config.id);
    if (known?.fingerprint === fingerprint) return known.upstream;
    void known?.upstream.close();
    const upstream = createMcpUpstream(
      {
        id: config.id,
        url: config.url,
        command: config.command,
        env: config.env,
        // `{owner}` in an env value becomes a hash of the person: per-person state files without their id in a path.
        ownerEnv: (owner) =>
          Object.fromEntries(
            Object.entries(config.env)
              .filter(([, v]) => v.includes('{owner}'))
              .map(([k, v]) => [k, v.replaceAll('{owner}', sha256(owner).slice(0, 16))]),
          ),
        cwd: config.cwd,
        connectTimeoutMs: config.connectTimeoutMs,
        callTimeoutMs: config.callTimeoutMs,
      },
      {
        logger: this.deps.logger.child({ upstream: config.id }),
        eras: this.deps.eras,
        onProcessEvent: (event) =>
          this.deps.logger.info(
            { upstream: event.upstreamId, pid: event.pid, event: `upstream_process_${event.type}` },
            `upstream process ${event.type}`,
          ),
      },
    );
    this.#upstreams.set(config.id, { fingerprint, upstream });
    return upstream;
  }

  async #drop(key: string, how: 'close'): Promise<void> {
    const pooled = this.#connections.get(key);
    if (!pooled) return;
    this.#connections.delete(key);
    clearTimeout(pooled.idleTimer);
    const connection = await pooled.connection.catch(() => undefined);
    if (how === 'close') await connection?.close().catch(() => {});
  }
}

type Extensions = NonNullable<ServerCapabilities['extensions']>;

function withoutSubscriptionId(notification: Notification): Notification {
  const meta = notification.params?._meta as Record<string, unknown> | undefined;
  if (!meta || !(SUBSCRIPTION_ID_META_KEY in meta)) return notification;
  const { [SUBSCRIPTION_ID_META_KEY]: _subscriptionId, ...rest } = meta;
  return { ...notification, params: { ...notification.params, _meta: rest } };
}

/** Waits for `promise` to settle, at most `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
