import { nodeFetch } from './node-fetch.js';
import {
  SdkError,
  SdkErrorCode,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type FetchLike,
  type Transport,
} from '@modelcontextprotocol/client';
import type { Logger } from 'pino';
import type {
  ConnectOptions,
  McpTransportKind,
  UpstreamEra,
  UpstreamHeaders,
  McpUpstream,
  McpUpstreamConnection,
  McpUpstreamDeps,
  McpUpstreamOptions,
} from './mcp-upstream-types.js';
import { UpstreamClient } from './upstream-client.js';
import { remainingMs, withDeadline } from './connect-deadline.js';
import {
  httpStatusOf,
  toUpstreamError,
  UpstreamError,
  UpstreamProtocolError,
  UpstreamTimeoutError,
  UpstreamUnauthorizedError,
  UpstreamUnavailableError,
} from './upstream-errors.js';

/**
 * An upstream MCP server over HTTP. Each {@link McpUpstream.connect} is its own SDK client
 * and transport carrying the caller's headers, so credentials of different people never mix.
 *
 * Transport choice (MCP 2025-03-26, "Backwards Compatibility"): POST `initialize` as
 * Streamable HTTP; when that answers 4xx (other than 401/403, which are about the
 * credential, not the protocol), open the legacy HTTP+SSE transport with GET on the same URL.
 *
 * Resume: a connection given `resume` attaches to the existing session instead of
 * initializing: the SDK client skips `initialize` when its transport already has a session
 * id, and {@link UpstreamClient} answers capability questions from the stored snapshot.
 * A `ping` proves the upstream still knows the session; when it answers 404 (or 400, which
 * some servers use for unknown sessions) a fresh session is created and `resumed` is false.
 */
export function createStreamableHttpUpstream(options: McpUpstreamOptions, deps: McpUpstreamDeps): McpUpstream {
  if (!options.url) throw new TypeError(`upstream "${options.id}": url is required`);
  const url = new URL(options.url);
  const logger = deps.logger.child({ upstream: options.id });
  const open = new Set<McpUpstreamConnection>();
  const preferred = options.httpTransport ?? 'auto';

  async function connect(connectOptions: ConnectOptions): Promise<McpUpstreamConnection> {
    const deadlineAt = Date.now() + options.connectTimeoutMs;
    if (preferred === 'sse') return connectSse(connectOptions, deadlineAt);
    if (connectOptions.resume) {
      const resumed = await resumeStreamable(connectOptions, deadlineAt);
      if (resumed) return resumed;
      logger.info({ sessionId: connectOptions.resume.sessionId }, 'upstream session is gone; starting a new one');
    }
    const fresh: ConnectOptions = { ...connectOptions, resume: undefined };
    try {
      return await connectStreamable(fresh, deadlineAt);
    } catch (error) {
      if (preferred === 'streamable-http' || !isProtocolMismatch(error)) throw error;
      logger.info({ internal: (error as UpstreamError).internal }, 'upstream does not speak Streamable HTTP; trying HTTP+SSE');
      try {
        return await connectSse(fresh, deadlineAt);
      } catch (sseError) {
        if (sseError instanceof UpstreamError && !(sseError instanceof UpstreamProtocolError)) throw sseError;
        throw new UpstreamProtocolError(options.id, {
          internal: `Streamable HTTP: ${(error as UpstreamError).internal}; HTTP+SSE: ${(sseError as UpstreamError).internal ?? String(sseError)}`,
          cause: sseError,
        });
      }
    }
  }

  /**
   * A new session-protocol session or, with an MCP 2026-07-28 upstream, a stateless connection.
   * The era is probed (`server/discover`) once and remembered; a remembered era that fails the
   * connection is forgotten and probed again.
   */
  async function connectStreamable(connectOptions: ConnectOptions, deadlineAt: number): Promise<McpUpstreamConnection> {
    const known = await deps.eras?.get(options.id, url.href);
    try {
      return await connectInEra(connectOptions, deadlineAt, known);
    } catch (error) {
      if (!known || error instanceof UpstreamTimeoutError || error instanceof UpstreamUnauthorizedError) throw error;
      await deps.eras?.forget(options.id, url.href);
      logger.info(
        { era: known.kind, internal: (error as UpstreamError).internal },
        'upstream no longer speaks the era remembered for it; probing again',
      );
      return connectInEra(connectOptions, deadlineAt, undefined);
    }
  }

  async function connectInEra(
    connectOptions: ConnectOptions,
    deadlineAt: number,
    known: UpstreamEra | undefined,
  ): Promise<McpUpstreamConnection> {
    // The SDK opens the session's GET event stream on its own once initialized; its answer is watched for.
    let eventStreamAnswered = () => {};
    const eventStream = new Promise<void>((resolve) => (eventStreamAnswered = resolve));
    const transport = new StreamableHTTPClientTransport(
      url,
      httpOptions(connectOptions.headers, options.id, connectOptions.onAuthChallenge, eventStreamAnswered),
    );
    const client = newClient(connectOptions, { negotiate: true });
    await handshake(client, transport, deadlineAt, known);
    if (!known) {
      const discover = client.getDiscoverResult();
      await deps.eras?.set(options.id, url.href, discover ? { kind: 'modern', discover } : { kind: 'legacy' });
    }
    return createHttpConnection({
      open,
      upstreamId: options.id,
      client,
      transport,
      kind: 'streamable-http',
      resumed: false,
      connectOptions,
      logger,
      // Only the session protocol has the stream; a 2026 session listens with `subscriptions/listen`.
      eventStream: client.getProtocolEra() === 'modern' ? undefined : eventStream,
    });
  }

  /** Resolves `undefined` when the upstream no longer knows the session. */
  async function resumeStreamable(connectOptions: ConnectOptions, deadlineAt: number): Promise<McpUpstreamConnection | undefined> {
    const resume = connectOptions.resume!;
    const transport = new StreamableHTTPClientTransport(url, {
      ...httpOptions(connectOptions.headers, options.id, connectOptions.onAuthChallenge),
      sessionId: resume.sessionId,
    });
    if (resume.protocolVersion) transport.setProtocolVersion(resume.protocolVersion);
    const client = newClient(connectOptions);
    try {
      await withDeadline(
        (async () => {
          await client.connect(transport);
          await client.ping({ timeout: remainingMs(deadlineAt) });
        })(),
        remainingMs(deadlineAt),
        () => new UpstreamTimeoutError(options.id, options.connectTimeoutMs),
      );
    } catch (error) {
      await client.close().catch(() => {});
      const status = httpStatusOf(error instanceof UpstreamError ? error.cause : error);
      if (status === 404 || status === 400) return undefined;
      throw connectError(error);
    }
    // The GET stream carries the session's notifications and server→client requests. If the
    // session's first holder still has its stream open the upstream refuses a second (409):
    // messages keep flowing there, and this connection still gets the answers to its requests.
    await withDeadline(transport.resumeStream(''), remainingMs(deadlineAt), () => new Error('GET stream timed out')).catch(
      (error: unknown) => logger.debug({ err: error }, 'no standalone GET stream on resumed session'),
    );
    return createHttpConnection({
      open,
      upstreamId: options.id,
      client,
      transport,
      kind: 'streamable-http',
      resumed: true,
      connectOptions,
      logger,
    });
  }

  async function connectSse(connectOptions: ConnectOptions, deadlineAt: number): Promise<McpUpstreamConnection> {
    const transport = new SSEClientTransport(url, httpOptions(connectOptions.headers, options.id, connectOptions.onAuthChallenge));
    const client = newClient(connectOptions);
    await handshake(client, transport, deadlineAt);
    return createHttpConnection({ open, upstreamId: options.id, client, transport, kind: 'sse', resumed: false, connectOptions, logger });
  }

  /** `server/discover` or `initialize` (or neither, with a known era) within the deadline; on any failure the half-open transport is closed. */
  async function handshake(client: UpstreamClient, transport: Transport, deadlineAt: number, prior?: UpstreamEra): Promise<void> {
    try {
      await withDeadline(
        client.connect(transport, { timeout: remainingMs(deadlineAt), prior }),
        remainingMs(deadlineAt),
        () => new UpstreamTimeoutError(options.id, options.connectTimeoutMs),
      );
    } catch (error) {
      await client.close().catch(() => {});
      throw connectError(error);
    }
  }

  function newClient(connectOptions: ConnectOptions, era: { negotiate?: boolean } = {}): UpstreamClient {
    return new UpstreamClient({
      upstreamId: options.id,
      negotiate: era.negotiate,
      callTimeoutMs: options.callTimeoutMs,
      clientInfo: connectOptions.clientInfo,
      capabilities: connectOptions.clientCapabilities,
      protocolVersion: connectOptions.protocolVersion,
      resumed: connectOptions.resume,
      onNotification: (notification) => connectOptions.onNotification?.(notification),
      requestHandler: () => connectOptions.onRequest,
    });
  }

  /** At connect time a 4xx means "not this protocol" (not "session expired"), and every timeout is the connect timeout. */
  function connectError(error: unknown): UpstreamError {
    // A failed era probe carries what went wrong underneath (a refused connection, the credential's own error).
    while (error instanceof SdkError && error.code === SdkErrorCode.EraNegotiationFailed && error.cause !== undefined) error = error.cause;
    const raw = error instanceof UpstreamError && error.cause !== undefined ? error.cause : error;
    const internal = error instanceof UpstreamError ? error.internal : raw instanceof Error ? raw.message : String(raw);
    if (error instanceof UpstreamTimeoutError)
      return new UpstreamTimeoutError(options.id, options.connectTimeoutMs, { internal, cause: raw });
    const status = httpStatusOf(raw);
    if (status === 401 || status === 403) return new UpstreamUnauthorizedError(options.id, status, { internal, cause: raw });
    if (status !== undefined && status < 500)
      return new UpstreamProtocolError(options.id, { internal: `HTTP ${status}: ${internal}`, cause: raw });
    if (status !== undefined) return new UpstreamUnavailableError(options.id, { internal: `HTTP ${status}: ${internal}`, cause: raw });
    const mapped = error instanceof UpstreamError ? error : toUpstreamError(raw, options.id, { timeoutMs: options.connectTimeoutMs });
    return mapped instanceof UpstreamError ? mapped : new UpstreamProtocolError(options.id, { internal, cause: raw });
  }

  return {
    id: options.id,
    kind: 'http',
    connect,
    async close() {
      await Promise.allSettled([...open].map((connection) => connection.close()));
    },
  };
}

/**
 * Transport options carrying the caller's headers: fixed ones ride in `requestInit`; a
 * function is asked before every request (POST, GET stream, DELETE) through `fetch`.
 * `onEventStream` hears that a GET (the session's event stream) was answered, or failed.
 */
function httpOptions(
  headers: UpstreamHeaders | undefined,
  upstreamId: string,
  onAuthChallenge?: ConnectOptions['onAuthChallenge'],
  onEventStream?: () => void,
): { requestInit?: RequestInit; fetch?: FetchLike } {
  const options = requestOptions(headers, upstreamId, onAuthChallenge);
  if (!onEventStream) return options;
  const send = options.fetch ?? nodeFetch;
  return {
    ...options,
    fetch: async (input, init) => {
      try {
        return await send(input, init);
      } finally {
        if ((init?.method ?? 'GET') === 'GET') onEventStream();
      }
    },
  };
}

function requestOptions(
  headers: UpstreamHeaders | undefined,
  upstreamId: string,
  onAuthChallenge?: ConnectOptions['onAuthChallenge'],
): { requestInit?: RequestInit; fetch?: FetchLike } {
  if (typeof headers !== 'function') return { requestInit: { headers: headers ?? {} }, fetch: nodeFetch };
  const send = async (input: string | URL, init: RequestInit | undefined) => {
    const sent = await headers();
    const merged = new Headers(init?.headers);
    for (const [name, value] of Object.entries(sent)) merged.set(name, value);
    return { response: await nodeFetch(input, { ...init, headers: merged }), sent };
  };
  return {
    fetch: async (input, init) => {
      let { response, sent } = await send(input, init);
      if (!onAuthChallenge) return response;
      // A refused credential (RFC 6750 §3.1) may be renewed once; the SDK's bodies are strings, so resending is safe.
      for (let retried = false; response.status === 401 || response.status === 403; retried = true) {
        const status = response.status as 401 | 403;
        const wwwAuthenticate = response.headers.get('www-authenticate') ?? undefined;
        await response.body?.cancel().catch(() => {});
        const verdict = await onAuthChallenge({ status, wwwAuthenticate, sentHeaders: sent, retried });
        if (verdict !== 'retry' || retried)
          throw new UpstreamUnauthorizedError(upstreamId, status, {
            internal: `HTTP ${status}${wwwAuthenticate ? `: ${wwwAuthenticate}` : ''}`,
            wwwAuthenticate,
          });
        ({ response, sent } = await send(input, init));
      }
      return response;
    },
  };
}

/** A 4xx on the Streamable HTTP POST that the spec says means "try the legacy transport". */
function isProtocolMismatch(error: unknown): boolean {
  if (!(error instanceof UpstreamProtocolError)) return false;
  const status = httpStatusOf(error.cause);
  return status !== undefined && status >= 400 && status < 500;
}

function createHttpConnection(params: {
  /** The upstream's open connections: this one is in it until closed. */
  open: Set<McpUpstreamConnection>;
  upstreamId: string;
  client: UpstreamClient;
  transport: StreamableHTTPClientTransport | SSEClientTransport;
  kind: McpTransportKind;
  resumed: boolean;
  connectOptions: ConnectOptions;
  logger: Logger;
  eventStream?: Promise<void>;
}): McpUpstreamConnection {
  const { client, transport, connectOptions, logger } = params;
  const streamable = transport instanceof StreamableHTTPClientTransport ? transport : undefined;
  let closed = false;
  // The SDK reports benign things here too (a refused GET stream, an aborted read at close).
  client.onerror = (error) => logger.debug({ err: error }, 'upstream transport error');
  client.onclose = () => {
    if (closed) return;
    closed = true;
    params.open.delete(connection);
    connectOptions.onClose?.(new UpstreamUnavailableError(params.upstreamId, { internal: 'transport closed' }));
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    params.open.delete(connection);
    await client.close().catch((error: unknown) => logger.debug({ err: error }, 'closing upstream client failed'));
    connectOptions.onClose?.();
  };

  const connection: McpUpstreamConnection = {
    upstreamId: params.upstreamId,
    transportKind: params.kind,
    client,
    resumed: params.resumed,
    eventStream: params.eventStream,
    get sessionId() {
      return streamable?.sessionId;
    },
    get session() {
      const sessionId = streamable?.sessionId;
      return sessionId ? client.snapshot(sessionId, streamable?.protocolVersion) : undefined;
    },
    close,
    async terminate() {
      try {
        if (streamable && !closed) await streamable.terminateSession();
      } catch (error) {
        // 404: the upstream already forgot the session, which is what terminating asks for.
        if (httpStatusOf(error) !== 404) {
          const mapped = toUpstreamError(error, params.upstreamId, { timeoutMs: 0 });
          logger.warn({ err: error }, 'upstream session DELETE failed');
          await close();
          throw mapped;
        }
      }
      await close();
    },
  };
  params.open.add(connection);
  return connection;
}
