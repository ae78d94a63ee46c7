import { HttpError } from '../../portal/http/errors.js';

/**
 * Gateway errors the HTTP-app proxy throws. They are {@link HttpError}s, so the portal's one
 * error handler renders them; `internal` (the upstream's own error text) reaches the log only,
 * never the response.
 */

/** The upstream refused or dropped the connection before answering (502 `bad_gateway`). */
export function badGateway(internal: string, cause?: unknown): HttpError {
  return new HttpError(502, 'bad_gateway', 'the upstream app could not be reached', { internal, cause });
}

/** The upstream did not connect or answer within its timeout (504 `gateway_timeout`). */
export function gatewayTimeout(internal: string): HttpError {
  return new HttpError(504, 'gateway_timeout', 'the upstream app did not answer in time', { internal });
}

/** A request the proxy will not forward: ambiguous framing or a path that escapes the app (400). */
export function rejectedRequest(message: string, internal?: string): HttpError {
  return new HttpError(400, 'invalid_request', message, { internal });
}
