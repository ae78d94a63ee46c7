import type { Request, RequestHandler } from 'express';
import { storeKey, type Store } from '../store/store.js';
import { RateLimitedError } from './errors.js';

/** A fixed-window limit shared by every portal process (its counters live in the Store). */
export interface RateLimit {
  /** Counts one hit for `subject`; throws {@link RateLimitedError} (429 + Retry-After) past the limit. */
  hit(subject: string): Promise<void>;
  /** Whether `subject` is over the limit, without counting. */
  exceeded(subject: string): Promise<boolean>;
}

export function createRateLimit(store: Store, options: { name: string; limit: number; windowMs: number }): RateLimit {
  const key = (subject: string) => storeKey('rate', `${options.name}:${subject}`);
  const reject = async (subject: string): Promise<never> => {
    const remaining = (await store.ttl(key(subject))) ?? options.windowMs;
    throw new RateLimitedError(remaining / 1000);
  };
  return {
    async hit(subject) {
      const count = await store.increment(key(subject), options.windowMs);
      if (count > options.limit) await reject(subject);
    },
    async exceeded(subject) {
      const count = Number((await store.get(key(subject))) ?? 0);
      return count >= options.limit;
    },
  };
}

/** Middleware counting each request against `limit`, keyed by client IP (or what `subject` says). */
export function rateLimitMiddleware(limit: RateLimit, subject: (req: Request) => string = (req) => req.ip ?? 'unknown'): RequestHandler {
  return async (req, _res, next) => {
    await limit.hit(subject(req));
    next();
  };
}
