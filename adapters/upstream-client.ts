import {
  Client,
  ProtocolError,
  ProtocolErrorCode,
  SUPPORTED_PROTOCOL_VERSIONS,
  type ClientCapabilities,
  type ClientContext,
  type CreateMessageResult,
  type ElicitResult,
  type ListRootsResult,
  type ClientResult,
  type Implementation,
  type Notification,
  type Request,
  type RequestMethod,
  type RequestOptions,
  type ResultTypeMap,
  type ServerCapabilities,
  type StandardSchemaV1,
} from '@modelcontextprotocol/client';
import type { UpstreamRequestHandler, UpstreamSession } from './mcp-upstream.js';
import { compiledSchemas } from './schema-validators.js';
import { UpstreamCancelledError, toUpstreamError, type UpstreamError } from './upstream-errors.js';

/** `clientInfo` the upstream sees unless the caller passes the agent's own. */
export const GATEHOUSE_CLIENT_INFO: Implementation = { name: 'gatehouse', version: '0.1.0' };

/** How an {@link UpstreamClient} reports back to whoever holds it. */
export interface UpstreamClientOptions {
  upstreamId: string;
  /** Default `RequestOptions.timeout` of every request. */
  callTimeoutMs: number;
  clientInfo?: Implementation;
  capabilities?: ClientCapabilities;
  /** Asked for in `initialize` instead of the SDK's latest version. */
  protocolVersion?: string;
  /** Probe with `server/discover` and speak MCP 2026-07-28 to an upstream that does (else `initialize`). */
  negotiate?: boolean;
  /** A resumed session: what `initialize` said when the session was created elsewhere. */
  resumed?: UpstreamSession;
  /** Every upstream notification without a handler of its own, and relayed progress. */
  onNotification: (notification: Notification) => void | Promise<void>;
  /** Looked up per request, so a shared (stdio) client reaches whoever holds it now. */
  requestHandler: () => UpstreamRequestHandler | undefined;
  /** A failure the holder already knows (a crashed process) wins over the SDK's "connection closed". */
  knownFailure?: () => UpstreamError | undefined;
}

/**
 * The SDK `Client` with the gateway's rules on every request, whichever helper
 * (`callTool`, `listTools`, `request`) made it:
 * - the upstream's call timeout is the default `timeout`;
 * - `_meta.progressToken` given by the caller is relayed: progress comes back to
 *   `onNotification` carrying the caller's token (the SDK puts its own token on the wire);
 * - an aborted `signal` rejects with {@link UpstreamCancelledError} after the SDK has sent
 *   `notifications/cancelled` upstream;
 * - transport failures become {@link UpstreamError}s; the upstream's JSON-RPC errors stay `ProtocolError`.
 *
 * Notifications and server→client requests go to the holder generically through the SDK's
 * fallback handlers, so new MCP methods pass through without code here.
 */
export class UpstreamClient extends Client {
  readonly #options: UpstreamClientOptions;

  constructor(options: UpstreamClientOptions) {
    super(options.clientInfo ?? GATEHOUSE_CLIENT_INFO, {
      capabilities: options.capabilities ?? {},
      jsonSchemaValidator: compiledSchemas,
      // `initialize` offers the first entry: the agent's own version when it is one we speak.
      supportedProtocolVersions: offeredVersions(options.protocolVersion),
      ...(options.negotiate ? { versionNegotiation: { mode: 'auto' as const } } : {}),
    });
    this.#options = options;
    this.fallbackNotificationHandler = async (notification) => {
      await options.onNotification(notification);
    };
    const relay = async (request: Request, ctx: ClientContext): Promise<ClientResult> => {
      const handler = options.requestHandler();
      if (!handler) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `the client cannot answer ${request.method}`);
      return (await handler(request, ctx)) as ClientResult;
    };
    this.fallbackRequestHandler = relay;
    // An MCP 2026-07-28 upstream asks through `input_required` results, which the SDK fulfils
    // only through handlers registered by method (the fallback is not asked).
    const declared = options.capabilities ?? {};
    if (declared.elicitation) this.setRequestHandler('elicitation/create', (request, ctx) => relay(request, ctx) as Promise<ElicitResult>);
    if (declared.sampling) this.setRequestHandler('sampling/createMessage', (request, ctx) => relay(request, ctx) as Promise<CreateMessageResult>);
    if (declared.roots) this.setRequestHandler('roots/list', (request, ctx) => relay(request, ctx) as Promise<ListRootsResult>);
  }

  // The SDK's two forms, kept: a spec method without a result schema, any method with one.
  override request<M extends RequestMethod>(request: { method: M; params?: Record<string, unknown> }, options?: RequestOptions): Promise<ResultTypeMap[M]>;
  override request<T extends StandardSchemaV1>(request: Request, resultSchema: T, options?: RequestOptions): Promise<StandardSchemaV1.InferOutput<T>>;
  override request(request: Request, schemaOrOptions?: StandardSchemaV1 | RequestOptions, maybeOptions?: RequestOptions): Promise<unknown> {
    const schema = isStandardSchema(schemaOrOptions) ? schemaOrOptions : undefined;
    const options = schema ? maybeOptions : (schemaOrOptions as RequestOptions | undefined);
    const effective: RequestOptions = { ...options, timeout: options?.timeout ?? this.#options.callTimeoutMs };
    const callerToken = request.params?._meta?.progressToken;
    if (callerToken !== undefined && !effective.onprogress) {
      effective.onprogress = (progress) => {
        void Promise.resolve(this.#options.onNotification({ method: 'notifications/progress', params: { ...progress, progressToken: callerToken } })).catch(() => {});
      };
    }
    const sent = schema ? super.request(request, schema, effective) : super.request(request as { method: RequestMethod }, effective);
    return sent.catch((error: unknown) => {
      throw this.#classify(error, effective);
    });
  }

  override getServerCapabilities(): ServerCapabilities | undefined {
    return super.getServerCapabilities() ?? this.#options.resumed?.serverCapabilities;
  }

  override getServerVersion(): Implementation | undefined {
    return super.getServerVersion() ?? this.#options.resumed?.serverInfo;
  }

  override getInstructions(): string | undefined {
    return super.getInstructions() ?? this.#options.resumed?.instructions;
  }

  /** What another connection needs to resume this session (see {@link UpstreamSession}). */
  snapshot(sessionId: string, protocolVersion: string | undefined): UpstreamSession {
    return {
      sessionId,
      protocolVersion,
      serverCapabilities: this.getServerCapabilities(),
      serverInfo: this.getServerVersion(),
      instructions: this.getInstructions(),
    };
  }

  #classify(error: unknown, options: RequestOptions): unknown {
    const { upstreamId } = this.#options;
    if (options.signal?.aborted) return new UpstreamCancelledError(upstreamId, { internal: String(options.signal.reason), cause: error });
    // Once the holder knows why the connection died (a crashed process), every failure is that.
    const known = this.#options.knownFailure?.();
    if (known) return known;
    return toUpstreamError(error, upstreamId, { timeoutMs: options.timeout ?? this.#options.callTimeoutMs });
  }
}

function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  return typeof value === 'object' && value !== null && '~standard' in value;
}

/** The versions `initialize` may settle on, the agent's first so that the upstream speaks what the agent speaks. */
function offeredVersions(agentVersion: string | undefined): string[] {
  const supported = SUPPORTED_PROTOCOL_VERSIONS;
  return agentVersion && supported.includes(agentVersion) ? [agentVersion, ...supported.filter((v) => v !== agentVersion)] : [...supported];
}
