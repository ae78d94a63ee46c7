/** The types of the MCP upstream adapters: what the portal asks of an upstream, and what each implementation provides. */
import type { Logger } from 'pino';
import type { ClientCapabilities, DiscoverResult, Implementation, Notification } from '@modelcontextprotocol/client';
import type { UpstreamClient, UpstreamRequestHandler, UpstreamSession } from './upstream-client.js';
import type { UpstreamError } from './upstream-errors.js';

export type { UpstreamRequestHandler, UpstreamSession } from './upstream-client.js';

/** How the portal reaches an upstream MCP server. */
export type McpTransportKind = 'streamable-http' | 'sse' | 'stdio';

/** One upstream MCP server, as configured (`upstreams[]` with `kind: mcp`). Exactly one of `url` and `command`. */
export interface McpUpstreamOptions {
  /** The upstream id (`^[a-z0-9][a-z0-9-]{0,30}$`); named in every error and log line. */
  id: string;
  /** Streamable HTTP (or legacy HTTP+SSE) endpoint, e.g. `http://127.0.0.1:3001/mcp`. */
  url?: string;
  /**
   * `auto` (default) tries Streamable HTTP and falls back to HTTP+SSE when the POST gets a
   * 4xx other than 401/403 (MCP 2025-03-26, "Backwards Compatibility").
   */
  httpTransport?: 'auto' | 'streamable-http' | 'sse';
  /** stdio: the executable and its arguments, e.g. `['npx', 'some-stdio-server']`. */
  command?: readonly string[];
  /** stdio: variables added to `PATH`, `HOME` (and the SDK's few defaults) in the child's environment. */
  env?: Record<string, string>;
  /**
   * stdio: variables for one owner's process, merged over `env`; lets each person's process
   * keep its state apart (e.g. its own data file).
   */
  ownerEnv?: (ownerKey: string) => Record<string, string>;
  /** stdio: working directory of the child. */
  cwd?: string;
  /** Bound on connecting: spawn or HTTP handshake plus `initialize`. */
  connectTimeoutMs: number;
  /** Default timeout of every request to the upstream (SDK `RequestOptions.timeout`). */
  callTimeoutMs: number;
  /** stdio: most processes alive at once across all owners (default 20). */
  maxProcesses?: number;
  /** stdio: a process nobody holds a connection to is stopped after this long (default 5 minutes). */
  idleTimeoutMs?: number;
}

/** Fixed headers, or a function that supplies them for each HTTP request. */
export type UpstreamHeaders = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);

/** An upstream's refusal of the credential a request carried (HTTP 401/403, RFC 6750 §3). */
export interface AuthChallenge {
  status: 401 | 403;
  /** The upstream's `WWW-Authenticate`, if any. */
  wwwAuthenticate?: string;
  /** The credential headers the refused request carried (to tell a stale token from a fresh one). */
  sentHeaders: Record<string, string>;
  /** True when this was already the one retry: the credential was just renewed and still refused. */
  retried: boolean;
}

/** Per-connection options: who is asking and where upstream traffic should go back to. */
export interface ConnectOptions {
  /**
   * Headers sent on every HTTP request upstream: the minted credential and identity headers.
   * A function is called before each request, so a long-lived connection can carry a
   * short-lived credential minted afresh. Ignored by stdio.
   */
  headers?: UpstreamHeaders;
  /**
   * Asked when the upstream refuses a request's credential (with function {@link headers}):
   * `'retry'` sends the request once more with fresh headers (e.g. after a token refresh); anything
   * else, or a second refusal, fails the request with an `UpstreamUnauthorizedError` carrying the
   * challenge. It may instead throw an `UpstreamError` of its own (e.g. "connect again"). At most
   * one retry per request, so an upstream that refuses everything costs two requests, not a loop.
   */
  onAuthChallenge?: (challenge: AuthChallenge) => Promise<'retry' | undefined>;
  /** The person: stdio processes are never shared between owners. */
  ownerKey: string;
  /** Attach to an existing Streamable HTTP session (from another connection's {@link McpUpstreamConnection.session}). */
  resume?: UpstreamSession;
  /** What the agent declared (sampling, elicitation, roots), so the upstream offers the same features. */
  clientCapabilities?: ClientCapabilities;
  /** `clientInfo` sent in `initialize`; default `{ name: 'gatehouse', version }`. */
  clientInfo?: Implementation;
  /** Protocol version to ask for in `initialize` (the agent's); default the SDK's latest. */
  protocolVersion?: string;
  /**
   * Upstream notifications (list_changed, logging, resources/updated, …). Progress for a
   * request whose params carried `_meta.progressToken` arrives here too, with that token.
   */
  onNotification?: (notification: Notification) => void | Promise<void>;
  /** Server→client requests; without it they are answered "method not found". */
  onRequest?: UpstreamRequestHandler;
  /** The connection ended: `error` is set when it ended by failure (e.g. {@link UpstreamCrashedError}). */
  onClose?: (error?: UpstreamError) => void;
}

/** A live connection to an upstream for one caller. */
export interface McpUpstreamConnection {
  readonly upstreamId: string;
  readonly transportKind: McpTransportKind;
  /**
   * The SDK client. Every request made through it has the upstream's call timeout unless the
   * call passes its own, honours `signal`, and rejects with an {@link UpstreamError} for
   * transport failures (the upstream's own JSON-RPC errors stay `McpError`). Do not call
   * `client.close()`: a stdio client is shared by the owner's connections; use {@link close}.
   */
  readonly client: UpstreamClient;
  /** Streamable HTTP session id; `undefined` for SSE and stdio. */
  readonly sessionId?: string;
  /** Snapshot to store for {@link ConnectOptions.resume}; `undefined` when not resumable. */
  readonly session?: UpstreamSession;
  /** stdio: the process serving this connection (shared by the owner's connections). */
  readonly pid?: number;
  /** `true` when `resume` was asked for and the upstream still knew the session. */
  readonly resumed: boolean;
  /**
   * A new Streamable HTTP session of the session protocol: settles once the upstream answered the
   * GET that opens the session's event stream (or it failed). Until then the session's
   * notifications (`list_changed`) are lost upstream. Absent where there is nothing to wait for.
   */
  readonly eventStream?: Promise<void>;
  /** Stops using the connection; the upstream session (HTTP) or process (stdio) stays for reuse. */
  close(): Promise<void>;
  /** Ends the upstream session too: HTTP `DELETE` of the session; stdio stops the process once no one else holds it. */
  terminate(): Promise<void>;
}

/** One configured upstream MCP server. */
export interface McpUpstream {
  readonly id: string;
  readonly kind: 'http' | 'stdio';
  /** Connects (or attaches to the owner's process) within `connectTimeoutMs`; rejects with an {@link UpstreamError}. */
  connect(options: ConnectOptions): Promise<McpUpstreamConnection>;
  /** Closes every connection and stops every process. */
  close(): Promise<void>;
}

/** Something that happened to a stdio process, for metrics and the audit trail. */
export interface UpstreamProcessEvent {
  type: 'started' | 'stopped-idle' | 'evicted' | 'crashed' | 'stopped';
  upstreamId: string;
  ownerKey: string;
  pid?: number;
  error?: UpstreamError;
}

/**
 * Which era an upstream speaks, as found by a `server/discover` probe: MCP 2026-07-28 (with what
 * it advertised) or the session protocol of 2025 and before.
 */
export type UpstreamEra = { kind: 'modern'; discover: DiscoverResult } | { kind: 'legacy' };

/**
 * Remembers each upstream's era so that it is probed once, not on every connection; shared by
 * every portal process. A remembered verdict that no longer holds is forgotten and probed again.
 */
export interface UpstreamEraCache {
  get(upstreamId: string, url: string): Promise<UpstreamEra | undefined>;
  set(upstreamId: string, url: string, era: UpstreamEra): Promise<void>;
  forget(upstreamId: string, url: string): Promise<void>;
}

/** What an upstream adapter needs from the portal. */
export interface McpUpstreamDeps {
  /** Receives connection problems and a stdio child's stderr (never inherited). */
  logger: Logger;
  /** HTTP upstreams: where their era is remembered; without it every connection probes. */
  eras?: UpstreamEraCache;
  /** stdio process lifecycle (start, idle stop, eviction, crash). */
  onProcessEvent?: (event: UpstreamProcessEvent) => void;
}
