/** What went wrong between the proxy and an upstream app, as a stable machine-readable code. */
export type GatewayErrorCode = 'invalid_request' | 'not_found' | 'bad_gateway' | 'gateway_timeout';

/**
 * An error of the HTTP-app proxy. The adapter knows nothing of the portal's answers: the portal
 * maps this to its own (`portal/http/errors.ts`). `internal` (the upstream's own error text)
 * reaches the log only, never the response.
 */
export class GatewayError extends Error {
  readonly internal?: string;

  constructor(
    readonly status: 400 | 404 | 502 | 504,
    readonly code: GatewayErrorCode,
    message: string,
    options: { internal?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'GatewayError';
    this.internal = options.internal;
  }
}

/** The upstream refused or dropped the connection before answering (502 `bad_gateway`). */
export function badGateway(internal: string, cause?: unknown): GatewayError {
  return new GatewayError(502, 'bad_gateway', 'the upstream app could not be reached', { internal, cause });
}

/** The upstream did not connect or answer within its timeout (504 `gateway_timeout`). */
export function gatewayTimeout(internal: string): GatewayError {
  return new GatewayError(504, 'gateway_timeout', 'the upstream app did not answer in time', { internal });
}

/** A request the proxy will not forward: ambiguous framing or a path that escapes the app (400). */
export function rejectedRequest(message: string, internal?: string): GatewayError {
  return new GatewayError(400, 'invalid_request', message, { internal });
}

/** A path outside the app's mount (404). */
export function noSuchPath(): GatewayError {
  return new GatewayError(404, 'not_found', 'no such app path');
}
