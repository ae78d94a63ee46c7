import { systemClock, type Clock } from '../clock.js';
import type { Middleware } from '../http/middleware.js';
import { storeKey, type Store } from '../store/store.js';
import { findContext } from '../http/request-context.js';

/** When each grant was last used by its agent ("last used" on the connections page and in the admin API). */
export interface GrantUsage {
  lastUsed(grantId: string): Promise<number | undefined>;
  /** After each request that passed the bearer check: records the grant's use (at most once a minute per process). */
  middleware: Middleware;
}

const WRITE_EVERY_MS = 60_000;

/** `clock` stamps each use (default the real time). */
export function createGrantUsage(options: { store: Store; ttlMs: number; clock?: Clock }): GrantUsage {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const key = (grantId: string) => storeKey('grant', grantId, 'used');
  // Per-process throttle: a busy agent costs one Store write a minute, not one per request.
  const written = new Map<string, number>();
  return {
    async lastUsed(grantId) {
      const value = await store.get(key(grantId));
      return value === null ? undefined : Number(value);
    },
    middleware: (req, res, next) => {
      res.on('finish', () => {
        const grantId = findContext(req)?.auth?.grantId;
        if (!grantId || res.statusCode >= 400) return;
        const now = clock.now();
        if (now - (written.get(grantId) ?? 0) < WRITE_EVERY_MS) return;
        written.set(grantId, now);
        if (written.size > 10_000) written.clear();
        store.set(key(grantId), String(now), { ttlMs: options.ttlMs }).catch(() => written.delete(grantId));
      });
      next();
    },
  };
}
