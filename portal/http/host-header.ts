import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';
import type { Middleware } from './middleware.js';

/**
 * Refuses a request with more than one `Host` field: a 400 (RFC 9112 §3.2). Node keeps the
 * first and drops the others, so the portal and whatever sits in front of it could route the same
 * request by different hosts; only `rawHeaders` still shows them all.
 */
export function assertSingleHost(req: IncomingMessage): void {
  let seen = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === 'host' && ++seen > 1)
      throw new HttpError(400, 'invalid_request', 'the request has more than one Host header');
  }
}

/** {@link assertSingleHost} as a step of every request. */
export const singleHostHeader: Middleware = (req, _res, next) => {
  assertSingleHost(req);
  next();
};
