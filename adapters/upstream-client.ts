import { randomUUID } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  Client,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  SUPPORTED_PROTOCOL_VERSIONS,
  SdkError,
  SdkErrorCode,
  type ClientCapabilities,
  type ClientContext,
  type CreateMessageResult,
  type ElicitResult,
  type ListRootsResult,
  type ClientResult,
  type Implementation,
  type JSONRPCErrorResponse,
  type JSONRPCResponse,
  type JSONRPCResultResponse,
  type Notification,
  type Request,
  type Result,
  type RequestMethod,
  type RequestOptions,
  type ResultTypeMap,
  type ServerCapabilities,
  type StandardSchemaV1,
} from '@modelcontextprotocol/client';
import { compiledSchemas } from './schema-validators.js';
import { UpstreamCancelledError, toUpstreamError, type UpstreamError } from './upstream-errors.js';

/**
 * What a Streamable HTTP connection needs to be resumed by another portal process: the
 * session id plus what `initialize` told us, because a resumed session is not initialized
 * again (the upstream would refuse a second `initialize` on the same session). JSON-safe.
 */
export interface UpstreamSession {
  sessionId: string;
  protocolVersion?: string;
  serverCapabilities?: ServerCapabilities;
  serverInfo?: Implementation;
  instructions?: string;
}

/** A server→client request (`sampling/createMessage`, `elicitation/create`, `roots/list`) to relay to the agent. */
export type UpstreamRequestHandler = (request: Request, extra: ClientContext) => Promise<Result>;

/** The MCP tasks extension: a `tools/call` may be answered with a task handle, polled with `tasks/*`. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/**
 * Where a task handle (a `tools/call` answered with `resultType: "task"`) rides through the SDK,
 * which takes only complete results: in the result's `_meta`, under a key fresh in each process
 * so that no upstream can put one there itself. Read it with {@link taskHandleOf}.
 */
const TASK_HANDLE_KEY = `gatehouse/task-handle/${randomUUID()}`;

/** The task an upstream answered a `tools/call` with (`resultType: "task"`), if it did. */
export function taskHandleOf(result: { _meta?: Record<string, unknown> }): Record<string, unknown> | undefined {
  return result._meta?.[TASK_HANDLE_KEY] as Record<string, unknown> | undefined;
}

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
  /** Requests sent by {@link extensionRequest}, by their (string) id, awaiting their response. */
  readonly #extensionCalls = new Map<string, (response: JSONRPCResponse | JSONRPCErrorResponse) => void>();
  #extensionCallIds = 0;

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
    if (declared.sampling)
      this.setRequestHandler('sampling/createMessage', (request, ctx) => relay(request, ctx) as Promise<CreateMessageResult>);
    if (declared.roots) this.setRequestHandler('roots/list', (request, ctx) => relay(request, ctx) as Promise<ListRootsResult>);
  }

  // The SDK's two forms, kept: a spec method without a result schema, any method with one.
  override request<M extends RequestMethod>(
    request: { method: M; params?: Record<string, unknown> },
    options?: RequestOptions,
  ): Promise<ResultTypeMap[M]>;
  override request<T extends StandardSchemaV1>(
    request: Request,
    resultSchema: T,
    options?: RequestOptions,
  ): Promise<StandardSchemaV1.InferOutput<T>>;
  override request(request: Request, schemaOrOptions?: StandardSchemaV1 | RequestOptions, maybeOptions?: RequestOptions): Promise<unknown> {
    const schema = isStandardSchema(schemaOrOptions) ? schemaOrOptions : undefined;
    const options = schema ? maybeOptions : (schemaOrOptions as RequestOptions | undefined);
    const effective: RequestOptions = { ...options, timeout: options?.timeout ?? this.#options.callTimeoutMs };
    const callerToken = request.params?._meta?.progressToken;
    if (callerToken !== undefined && !effective.onprogress) {
      effective.onprogress = (progress) => {
        void Promise.resolve(
          this.#options.onNotification({ method: 'notifications/progress', params: { ...progress, progressToken: callerToken } }),
        ).catch(() => {});
      };
    }
    const sent = schema ? super.request(request, schema, effective) : super.request(request as { method: RequestMethod }, effective);
    return sent.catch((error: unknown) => {
      throw this.#classify(error, effective);
    });
  }

  /**
   * Sends a request the SDK will not send to an upstream of MCP 2026-07-28 (the tasks
   * extension's `tasks/get`, `tasks/update`, `tasks/cancel` share names with the 2025 methods the
   * SDK's era gate removes), with that era's per-request envelope, and resolves the result as
   * the upstream sent it. The upstream's JSON-RPC error rejects as a `ProtocolError`, anything
   * else as an `UpstreamError`, like every other request.
   */
  extensionRequest(
    method: string,
    params: Record<string, unknown>,
    options: { signal?: AbortSignal } = {},
  ): Promise<Record<string, unknown>> {
    const timeoutMs = this.#options.callTimeoutMs;
    const id = `gatehouse-${++this.#extensionCallIds}`;
    const envelope = {
      [PROTOCOL_VERSION_META_KEY]: this.getNegotiatedProtocolVersion(),
      [CLIENT_CAPABILITIES_META_KEY]: this.#options.capabilities ?? {},
      [CLIENT_INFO_META_KEY]: this.#options.clientInfo ?? GATEHOUSE_CLIENT_INFO,
    };
    const meta = params._meta as Record<string, unknown> | undefined;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const { signal } = options;
      const settle = (outcome: () => void) => {
        this.#extensionCalls.delete(id);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      const fail = (error: unknown) => settle(() => reject(this.#classify(error, { signal, timeout: timeoutMs })));
      const onAbort = () => fail(signal!.reason);
      const timer = setTimeout(() => fail(new SdkError(SdkErrorCode.RequestTimeout, `${method} timed out`)), timeoutMs);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#extensionCalls.set(id, (response) =>
        'error' in response
          ? fail(new ProtocolError(response.error.code, response.error.message, response.error.data))
          : settle(() => resolve(response.result as Record<string, unknown>)),
      );
      const transport = this.transport;
      if (!transport) return fail(new Error('Not connected'));
      transport.send({ jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...meta, ...envelope } } }).catch(fail);
    });
  }

  /**
   * Responses to {@link extensionRequest} are taken here; a `tools/call` answered with a task
   * handle (to an agent that declared the tasks extension, which this client then declared
   * upstream) goes on to the SDK as a result it takes, carrying the handle (see {@link taskHandleOf}).
   */
  protected override _onresponse(response: JSONRPCResponse | JSONRPCErrorResponse): void {
    const waiting = typeof response.id === 'string' ? this.#extensionCalls.get(response.id) : undefined;
    if (waiting) {
      waiting(response);
      return;
    }
    super._onresponse(this.#declaresTasks && 'result' in response ? withTaskHandle(response as JSONRPCResultResponse) : response);
  }

  get #declaresTasks(): boolean {
    return this.#options.capabilities?.extensions?.[TASKS_EXTENSION] !== undefined;
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

/**
 * A task handle made a result the SDK's `tools/call` takes: marked an error with no content, so
 * that no output schema is asked of it, and carrying the task itself.
 */
function withTaskHandle(response: JSONRPCResultResponse): JSONRPCResultResponse {
  const { resultType, _meta, ...task } = response.result as Record<string, unknown> & { _meta?: Record<string, unknown> };
  if (resultType !== 'task') return response;
  return { ...response, result: { resultType: 'complete', isError: true, content: [], _meta: { ..._meta, [TASK_HANDLE_KEY]: task } } };
}

function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  return typeof value === 'object' && value !== null && '~standard' in value;
}

/** The versions `initialize` may settle on, the agent's first so that the upstream speaks what the agent speaks. */
function offeredVersions(agentVersion: string | undefined): string[] {
  const supported = SUPPORTED_PROTOCOL_VERSIONS;
  return agentVersion && supported.includes(agentVersion) ? [agentVersion, ...supported.filter((v) => v !== agentVersion)] : [...supported];
}
