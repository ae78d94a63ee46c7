import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { storeKey, StoreUnavailableError, type Store } from '../store/store.js';
import { HttpError, RateLimitedError } from './errors.js';

/** A fixed-window limit shared by every portal process (its counters live in the Store). */
export interface RateLimit {
  /** Counts one hit for `subject`; throws {@link RateLimitedError} (429 + Retry-After) past the limit. */
  hit(subject: string): Promise<void>;
  /** Counts one hit for `subject` without refusing anything (a failure already answered otherwise). */
  count(subject: string): Promise<void>;
  /** Whether `subject` is over the limit, without counting. */
  exceeded(subject: string): Promise<boolean>;
  /** Throws {@link RateLimitedError} when `subject` is over the limit, without counting. */
  refuseIfExceeded(subject: string): Promise<void>;
}

export function createRateLimit(store: Store, options: { name: string; limit: number; windowMs: number }): RateLimit {
  const key = (subject: string) => storeKey('rate', `${options.name}:${subject}`);
  const reject = async (subject: string): Promise<never> => {
    const remaining = (await store.ttl(key(subject))) ?? options.windowMs;
    throw new RateLimitedError(remaining / 1000);
  };
  const exceeded = async (subject: string) => Number((await store.get(key(subject))) ?? 0) >= options.limit;
  return {
    async hit(subject) {
      const count = await store.increment(key(subject), options.windowMs);
      if (count > options.limit) await reject(subject);
    },
    async count(subject) {
      await store.increment(key(subject), options.windowMs);
    },
    exceeded,
    async refuseIfExceeded(subject) {
      if (await exceeded(subject)) await reject(subject);
    },
  };
}

const clientIp = (req: Request) => req.ip ?? 'unknown';

/** Middleware counting each request against `limit`, keyed by client IP (or what `subject` says). */
export function rateLimitMiddleware(limit: RateLimit, subject: (req: Request) => string = clientIp): RequestHandler {
  return async (req, _res, next) => {
    await limit.hit(subject(req));
    next();
  };
}

/**
 * Middleware refusing (429) requests from an IP that is over `limit`, counting nothing; with
 * {@link countFailuresByIp} after the route, only failed requests use the IP's budget.
 */
export function refuseFailingIp(limit: RateLimit): RequestHandler {
  return async (req, _res, next) => {
    await limit.refuseIfExceeded(clientIp(req));
    next();
  };
}

/**
 * Error middleware counting a refused request (a 4xx: bad client credentials, a wrong code or
 * refresh token, a malformed request) against its IP's `limit`, then passing the error on: so
 * guessing from one address is stopped while the address's successful requests cost it nothing.
 */
export function countFailuresByIp(limit: RateLimit): ErrorRequestHandler {
  return async (error: unknown, req, _res, next) => {
    const status = error instanceof HttpError ? error.status : (error as { status?: unknown } | undefined)?.status;
    const refused = typeof status === 'number' && status >= 400 && status < 500 && !(error instanceof RateLimitedError);
    if (refused) {
      try {
        await limit.count(clientIp(req));
      } catch (countError) {
        // The store is down: the request fails closed with that, not with its own error.
        if (countError instanceof StoreUnavailableError) return next(countError);
        throw countError;
      }
    }
    next(error);
  };
}
