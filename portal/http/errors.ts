import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Request } from 'express';
import type { Logger } from 'pino';
import { GatewayError } from '../../adapters/http-app/errors.js';
import { StoreUnavailableError } from '../store/store.js';
import { renderErrorPage } from '../web/error-page.js';
import { JSON_TOO_DEEP } from './body.js';
import { findContext, requestPath } from './request-context.js';
import { writeJson } from './write-json.js';

/**
 * An error with an HTTP status that is safe to show. `internal` detail goes to the log only.
 * Handlers throw these; {@link errorHandler} is the one place that turns errors into responses.
 */
export class HttpError extends Error {
  readonly status: number;
  /** Stable machine-readable code (`body.error` in JSON answers). */
  readonly code: string;
  readonly headers: Record<string, string>;
  readonly internal?: string;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { headers?: Record<string, string>; internal?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
    this.internal = options.internal;
  }
}

/** OAuth 2.x error codes (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 6750 §3.1, RFC 7009 §2.2.1) and their HTTP status. */
export const OAUTH_ERROR_STATUS = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  access_denied: 403,
  unsupported_response_type: 400,
  unsupported_token_type: 400,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  temporarily_unavailable: 503,
  server_error: 500,
  // RFC 8628 §3.5: a device's polls are answered as token errors (RFC 6749 §5.2), 400.
  authorization_pending: 400,
  slow_down: 400,
  expired_token: 400,
  // OpenID Connect Core §3.1.2.6: answers to prompt=none.
  login_required: 401,
  consent_required: 403,
  // RFC 9449 §5 (a resource answers it 401, with its challenge: §7.1).
  invalid_dpop_proof: 400,
} as const;

export type OAuthErrorCode = keyof typeof OAUTH_ERROR_STATUS;

/** An error answered as OAuth JSON: `{ "error": code, "error_description": message }`. */
export class OAuthError extends HttpError {
  declare readonly code: OAuthErrorCode;
  constructor(
    code: OAuthErrorCode,
    description: string,
    options: { status?: number; headers?: Record<string, string>; internal?: string; cause?: unknown } = {},
  ) {
    super(options.status ?? OAUTH_ERROR_STATUS[code], code, description, options);
    this.name = 'OAuthError';
  }
}

/** An MCP transport-level error, answered as a JSON-RPC error object with `id: null`. */
export class JsonRpcHttpError extends HttpError {
  constructor(
    status: number,
    readonly rpcCode: number,
    message: string,
    options: { headers?: Record<string, string>; internal?: string } = {},
  ) {
    super(status, 'jsonrpc_error', message, options);
    this.name = 'JsonRpcHttpError';
  }
}

/**
 * A request body that is not JSON the portal will read (malformed, or nested past the limit):
 * OAuth endpoints answer `invalid_request`, the MCP endpoints JSON-RPC Parse error (-32700).
 */
export class MalformedJsonError extends HttpError {
  constructor(message: string) {
    super(400, 'invalid_request', message);
    this.name = 'MalformedJsonError';
  }
}

/** JSON-RPC 2.0 error codes (§5.1) and the MCP Streamable HTTP transport's -32000 family. */
export const JSONRPC = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  transportError: -32000,
  sessionNotFound: -32001,
} as const;

/** Too many requests: 429 with `Retry-After` (seconds). */
export class RateLimitedError extends HttpError {
  constructor(retryAfterSeconds: number) {
    super(429, 'too_many_requests', 'too many requests; try again later', {
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** Whether a request comes from a person's browser (and so deserves an HTML page). */
export function wantsHtml(req: Request): boolean {
  return req.accepts(['json', 'html']) === 'html' && !req.headers.authorization;
}

/**
 * The one place errors become responses. OAuth errors answer OAuth JSON (RFC 6749 §5.2),
 * a person's browser gets an HTML page, anything else JSON `{ error, error_description }`.
 * An error that is not an {@link HttpError} is a 500 whose detail only reaches the log.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    writeError(req, res, error, { logger, html: wantsHtml(req) });
  };
}

/**
 * {@link errorHandler} for requests served outside express (the MCP endpoint): logs the error and
 * answers it, unless the response has started (then the connection ends: there is nothing else
 * left to say).
 */
export function writeError(req: IncomingMessage, res: ServerResponse, error: unknown, options: { logger: Logger; html?: boolean }): void {
  const known = toHttpError(error);
  const log = findContext(req)?.log ?? options.logger;
  if (known.status >= 500) log.error({ err: error, errorCode: known.code }, known.internal ?? known.message);
  else if (known.internal) log.info({ errorCode: known.code }, known.internal);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(req, res, known, options.html ?? false);
}

/**
 * The error as the portal answers it, when it is one the portal knows (its own, or a gateway
 * error of the HTTP-app proxy); `undefined` for anything else, which is a bug or an outage.
 */
export function knownHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof GatewayError)
    return new HttpError(error.status, error.code, error.message, { internal: error.internal, cause: error.cause });
  return undefined;
}

function toHttpError(error: unknown): HttpError {
  const known = knownHttpError(error);
  if (known) return known;
  if (error instanceof StoreUnavailableError) {
    return new HttpError(503, 'temporarily_unavailable', 'the portal cannot reach its store; try again shortly', {
      headers: { 'Retry-After': '5' },
      internal: error.message,
    });
  }
  const bodyError = error as { type?: string; status?: number; expose?: boolean };
  if (bodyError?.type === 'entity.too.large') return new HttpError(413, 'invalid_request', 'request body too large');
  if (bodyError?.type === 'parameters.too.many') return new HttpError(413, 'invalid_request', 'request body has too many parameters');
  if (bodyError?.type === 'entity.parse.failed') return new MalformedJsonError('request body is not valid JSON');
  if (bodyError?.type === JSON_TOO_DEEP) return new MalformedJsonError(`request body: ${(error as Error).message}`);
  if (bodyError?.type === 'encoding.unsupported' || bodyError?.type === 'charset.unsupported')
    return new HttpError(415, 'invalid_request', 'unsupported request body encoding');
  // Any other refusal of the body parsers (a body that does not decompress, a length that lies) is the client's: its 4xx, never a 500.
  if (bodyError?.expose === true && typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
    return new HttpError(bodyError.status, 'invalid_request', 'malformed request body');
  }
  return new HttpError(500, 'server_error', 'internal error', { internal: (error as Error)?.message });
}

function isMcpPath(req: IncomingMessage): boolean {
  const path = requestPath(req);
  return path === '/mcp' || path.startsWith('/mcp/');
}

function send(req: IncomingMessage, res: ServerResponse, error: HttpError, html: boolean): void {
  // Inside MCP, everything but the bearer challenge speaks JSON-RPC.
  if (error instanceof JsonRpcHttpError || (isMcpPath(req) && !(error instanceof OAuthError))) {
    const code =
      error instanceof JsonRpcHttpError
        ? error.rpcCode
        : error instanceof MalformedJsonError
          ? JSONRPC.parseError
          : error.status >= 500
            ? JSONRPC.internalError
            : JSONRPC.invalidRequest;
    writeJson(res, error.status, { jsonrpc: '2.0', error: { code, message: error.message }, id: null }, error.headers);
    return;
  }
  if (!(error instanceof OAuthError) && html) {
    const page = renderErrorPage({
      status: error.status,
      title: error.code.replace(/_/g, ' '),
      message: error.message,
      requestId: findContext(req)?.id,
    });
    res
      .writeHead(error.status, { ...error.headers, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(page) })
      .end(page);
    return;
  }
  writeJson(res, error.status, { error: error.code, error_description: error.message }, { ...error.headers, 'Cache-Control': 'no-store' });
}
