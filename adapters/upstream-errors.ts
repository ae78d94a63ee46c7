import { ProtocolError, SdkError, SdkErrorCode, SdkHttpError, SseError } from '@modelcontextprotocol/client';
import { isFetchFailedTypeError, isSdkNotConnectedMessage, legacySsePostStatus } from './untyped-errors.js';

/** Stable codes of {@link UpstreamError}; tests and the portal match on these, never on messages. */
export type UpstreamErrorCode =
  | 'ERR_UPSTREAM_UNAVAILABLE'
  | 'ERR_UPSTREAM_TIMEOUT'
  | 'ERR_UPSTREAM_PROTOCOL'
  | 'ERR_UPSTREAM_UNAUTHORIZED'
  | 'ERR_UPSTREAM_SESSION_EXPIRED'
  | 'ERR_UPSTREAM_CANCELLED'
  | 'ERR_UPSTREAM_CRASHED'
  | 'ERR_UPSTREAM_BUSY'
  | 'ERR_UPSTREAM_CONNECT_REQUIRED'
  | 'ERR_UPSTREAM_CREDENTIAL';

/**
 * Something went wrong between the portal and an upstream MCP server. The message is safe to
 * show an agent; `internal` (upstream status lines, bodies, exit codes) is for the log only,
 * because an upstream's answer must never be echoed to the agent (DESIGN.md, "Failure rules").
 */
export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;
  readonly upstreamId: string;
  readonly internal?: string;

  constructor(code: UpstreamErrorCode, upstreamId: string, message: string, options: { internal?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'UpstreamError';
    this.code = code;
    this.upstreamId = upstreamId;
    this.internal = options.internal;
  }
}

/** The upstream cannot be reached: connection refused, DNS, 5xx, the process would not start. */
export class UpstreamUnavailableError extends UpstreamError {
  constructor(upstreamId: string, options: { internal?: string; cause?: unknown } = {}) {
    super('ERR_UPSTREAM_UNAVAILABLE', upstreamId, `upstream "${upstreamId}" is unavailable`, options);
    this.name = 'UpstreamUnavailableError';
  }
}

/** The upstream did not answer within the connect or call timeout. */
export class UpstreamTimeoutError extends UpstreamError {
  readonly timeoutMs: number;
  constructor(upstreamId: string, timeoutMs: number, options: { internal?: string; cause?: unknown } = {}) {
    super('ERR_UPSTREAM_TIMEOUT', upstreamId, `upstream "${upstreamId}" did not answer within ${timeoutMs} ms`, options);
    this.name = 'UpstreamTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** The upstream answered, but not as an MCP server (wrong content type, invalid JSON-RPC, 4xx on every transport). */
export class UpstreamProtocolError extends UpstreamError {
  constructor(upstreamId: string, options: { internal?: string; cause?: unknown } = {}) {
    super('ERR_UPSTREAM_PROTOCOL', upstreamId, `upstream "${upstreamId}" did not answer as an MCP server`, options);
    this.name = 'UpstreamProtocolError';
  }
}

/** The upstream refused the credential the portal sent (HTTP 401/403). */
export class UpstreamUnauthorizedError extends UpstreamError {
  readonly status: number;
  /** The upstream's `WWW-Authenticate` (RFC 6750 §3), when it sent one: `error`, `scope`, `resource_metadata`. */
  readonly wwwAuthenticate?: string;
  constructor(upstreamId: string, status: number, options: { internal?: string; cause?: unknown; wwwAuthenticate?: string } = {}) {
    super('ERR_UPSTREAM_UNAUTHORIZED', upstreamId, `upstream "${upstreamId}" refused the credential`, options);
    this.name = 'UpstreamUnauthorizedError';
    this.status = status;
    this.wwwAuthenticate = options.wwwAuthenticate;
  }
}

/** Why a person must (re)connect an upstream that uses their own OAuth account. */
export type ConnectReason = 'not_connected' | 'reconnect_required' | 'insufficient_scope';

/**
 * The upstream needs the person's own account at it (`credentials.type: oauth`) and there is no
 * usable one: never connected, refresh failed or the upstream refused the token, or the upstream
 * asks for more scope (RFC 6750 §3.1 `insufficient_scope`). `connectUrl` is where the person fixes it.
 */
export class UpstreamConnectRequiredError extends UpstreamError {
  readonly reason: ConnectReason;
  readonly connectUrl: string;
  /** For `insufficient_scope`: the scopes the upstream asked for. */
  readonly scope?: string[];
  constructor(upstreamId: string, reason: ConnectReason, connectUrl: string, options: { scope?: string[]; internal?: string } = {}) {
    super('ERR_UPSTREAM_CONNECT_REQUIRED', upstreamId, connectMessage(upstreamId, reason, connectUrl, options.scope), {
      internal: options.internal,
    });
    this.name = 'UpstreamConnectRequiredError';
    this.reason = reason;
    this.connectUrl = connectUrl;
    this.scope = options.scope;
  }
}

function connectMessage(upstreamId: string, reason: ConnectReason, url: string, scope?: string[]): string {
  if (reason === 'insufficient_scope')
    return `upstream "${upstreamId}" needs more access (scope ${scope?.join(' ') || 'unknown'}): approve it at ${url}`;
  if (reason === 'reconnect_required') return `the connection to upstream "${upstreamId}" has expired: connect it again at ${url}`;
  return `upstream "${upstreamId}" needs your own account there: connect it at ${url}`;
}

/** The portal could not obtain the credential it sends the upstream (its token exchange there failed). */
export class UpstreamCredentialError extends UpstreamError {
  constructor(upstreamId: string, options: { internal?: string; cause?: unknown } = {}) {
    super('ERR_UPSTREAM_CREDENTIAL', upstreamId, `the portal could not obtain a credential for upstream "${upstreamId}"`, options);
    this.name = 'UpstreamCredentialError';
  }
}

/** The upstream no longer knows the Streamable HTTP session (MCP 2025-06-18, "Session Management": 404): reconnect. */
export class UpstreamSessionExpiredError extends UpstreamError {
  constructor(upstreamId: string, options: { internal?: string; cause?: unknown } = {}) {
    super('ERR_UPSTREAM_SESSION_EXPIRED', upstreamId, `upstream "${upstreamId}" session expired`, options);
    this.name = 'UpstreamSessionExpiredError';
  }
}

/** The caller aborted the request (an agent's `notifications/cancelled`); the upstream was told to cancel too. */
export class UpstreamCancelledError extends UpstreamError {
  constructor(upstreamId: string, options: { internal?: string; cause?: unknown } = {}) {
    super('ERR_UPSTREAM_CANCELLED', upstreamId, `request to upstream "${upstreamId}" was cancelled`, options);
    this.name = 'UpstreamCancelledError';
  }
}

/** A stdio upstream process exited while in use; the next connect starts a fresh one. */
export class UpstreamCrashedError extends UpstreamError {
  constructor(upstreamId: string, options: { internal?: string; cause?: unknown } = {}) {
    super('ERR_UPSTREAM_CRASHED', upstreamId, `upstream "${upstreamId}" process exited unexpectedly`, options);
    this.name = 'UpstreamCrashedError';
  }
}

/** Every stdio process slot of the upstream is in use by someone; try again later. */
export class UpstreamBusyError extends UpstreamError {
  constructor(upstreamId: string, maxProcesses: number) {
    super('ERR_UPSTREAM_BUSY', upstreamId, `upstream "${upstreamId}" is busy: all ${maxProcesses} processes are in use`);
    this.name = 'UpstreamBusyError';
  }
}

/**
 * Classifies anything the SDK or the network threw into an {@link UpstreamError}. JSON-RPC
 * errors the upstream itself answered (`ProtocolError`) are
 * returned unchanged: they are the upstream's answer, which the portal relays as is.
 */
export function toUpstreamError(error: unknown, upstreamId: string, context: { timeoutMs: number }): UpstreamError | ProtocolError {
  if (error instanceof UpstreamError) return error;
  const internal = error instanceof Error ? error.message : String(error);
  // The upstream's own JSON-RPC error: its answer, relayed as is.
  if (error instanceof ProtocolError) return error;
  if (error instanceof SdkError && !(error instanceof SdkHttpError)) {
    if (error.code === SdkErrorCode.RequestTimeout)
      return new UpstreamTimeoutError(upstreamId, context.timeoutMs, { internal, cause: error });
    if (
      error.code === SdkErrorCode.ConnectionClosed ||
      error.code === SdkErrorCode.NotConnected ||
      error.code === SdkErrorCode.SendFailed
    ) {
      return new UpstreamUnavailableError(upstreamId, { internal, cause: error });
    }
  }
  if (isSdkNotConnectedMessage(error)) return new UpstreamUnavailableError(upstreamId, { internal, cause: error });
  const status = httpStatusOf(error);
  if (status !== undefined) {
    if (status === 401 || status === 403) return new UpstreamUnauthorizedError(upstreamId, status, { internal, cause: error });
    if (status === 404) return new UpstreamSessionExpiredError(upstreamId, { internal, cause: error });
    if (status >= 500) return new UpstreamUnavailableError(upstreamId, { internal, cause: error });
    return new UpstreamProtocolError(upstreamId, { internal, cause: error });
  }
  if (isNetworkError(error)) return new UpstreamUnavailableError(upstreamId, { internal: networkDetail(error), cause: error });
  return new UpstreamProtocolError(upstreamId, { internal, cause: error });
}

/** The HTTP status carried by an SDK transport error; `undefined` when it is not one (or `-1`: bad content type). */
export function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof SdkHttpError) return error.status > 0 ? error.status : undefined;
  if (error instanceof SseError) return typeof error.code === 'number' && error.code > 0 ? error.code : undefined;
  return legacySsePostStatus(error);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOENT',
  'EACCES',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** fetch wraps socket errors as `TypeError('fetch failed', { cause })`; spawn reports `ENOENT`. */
export function isNetworkError(error: unknown): boolean {
  return NETWORK_CODES.has(errorCode(error) ?? '') || isFetchFailedTypeError(error);
}

function errorCode(error: unknown): string | undefined {
  const own = (error as { code?: unknown })?.code;
  if (typeof own === 'string') return own;
  const cause = (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof cause === 'string' ? cause : undefined;
}

function networkDetail(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code ? `${message} (${code})` : message;
}
