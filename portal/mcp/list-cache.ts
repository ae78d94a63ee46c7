import type { Logger } from 'pino';
import type { Store } from '../store/store.js';

/** The list methods whose upstream pages are cached. */
export type ListMethod = 'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list';

/** One upstream page as it came (before the person's tool rules and the aggregate's names are applied). */
export interface ListPage {
  nextCursor?: string;
  /** MCP 2026-07-28 (SEP-2549): how long the page stays fresh, and whether it may be shared between people. */
  ttlMs?: number;
  cacheScope?: 'public' | 'private';
  [field: string]: unknown;
}

/** A cached page and how much of its freshness is left. */
export interface CachedPage {
  page: ListPage;
  remainingMs: number;
}

/** Pages kept per process; past this the oldest goes first. */
const MAX_PAGES = 10_000;

/** The notification that makes an upstream's pages of a list stale. */
const STALE_AFTER: Record<string, ListMethod[]> = {
  'notifications/tools/list_changed': ['tools/list'],
  'notifications/prompts/list_changed': ['prompts/list'],
  'notifications/resources/list_changed': ['resources/list', 'resources/templates/list'],
};

const CHANNEL = 'mcp:lists-changed';

/**
 * Upstream list pages, served while the upstream says they are fresh (`ttlMs`; an upstream that
 * gives none is always asked), shared between people only when it says `cacheScope: public`,
 * and dropped in every portal process when the upstream announces that the list changed.
 */
export interface ListCache {
  get(upstreamId: string, method: ListMethod, cursor: string | undefined, personId: string): CachedPage | undefined;
  set(upstreamId: string, method: ListMethod, cursor: string | undefined, personId: string, page: ListPage): void;
  /** An upstream's notification: a list change drops that list's pages here and in every other process. */
  noticed(upstreamId: string, notificationMethod: string): void;
  close(): Promise<void>;
}

export function createListCache(options: { store: Store; logger: Logger; now?: () => number }): ListCache {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const pages = new Map<string, { page: ListPage; expiresAt: number }>();
  const key = (upstreamId: string, method: ListMethod, cursor: string | undefined, partition: string) =>
    `${upstreamId}\n${method}\n${cursor ?? ''}\n${partition}`;

  function drop(upstreamId: string, methods: ListMethod[]): void {
    for (const cached of pages.keys()) {
      const [id, method] = cached.split('\n');
      if (id === upstreamId && methods.includes(method as ListMethod)) pages.delete(cached);
    }
  }

  const subscribed = store.subscribe(CHANNEL, (raw) => {
    try {
      const { upstreamId, methods } = JSON.parse(raw) as { upstreamId: string; methods: ListMethod[] };
      drop(upstreamId, methods);
    } catch {
      // Not ours: ignored.
    }
  });
  subscribed.catch((error: unknown) => logger.warn({ err: error }, 'list cache: no invalidations from other processes'));
  // Invalidations announced while this process was cut off from the store are lost: drop every page.
  const stopHearingGaps = store.onMessagesMissed(() => pages.clear());

  function fresh(cacheKey: string): CachedPage | undefined {
    const entry = pages.get(cacheKey);
    if (!entry) return undefined;
    const remainingMs = entry.expiresAt - now();
    if (remainingMs > 0) return { page: entry.page, remainingMs };
    pages.delete(cacheKey);
    return undefined;
  }

  return {
    get(upstreamId, method, cursor, personId) {
      return fresh(key(upstreamId, method, cursor, '')) ?? fresh(key(upstreamId, method, cursor, personId));
    },
    set(upstreamId, method, cursor, personId, page) {
      const ttlMs = typeof page.ttlMs === 'number' && Number.isFinite(page.ttlMs) ? page.ttlMs : 0;
      if (ttlMs <= 0) return;
      if (pages.size >= MAX_PAGES) pages.delete(pages.keys().next().value!);
      pages.set(key(upstreamId, method, cursor, page.cacheScope === 'public' ? '' : personId), { page, expiresAt: now() + ttlMs });
    },
    noticed(upstreamId, notificationMethod) {
      const methods = STALE_AFTER[notificationMethod];
      if (!methods) return;
      drop(upstreamId, methods);
      store
        .publish(CHANNEL, JSON.stringify({ upstreamId, methods }))
        .catch((error: unknown) => logger.warn({ err: error, upstream: upstreamId }, 'list cache: invalidation not published'));
    },
    async close() {
      stopHearingGaps();
      await (await subscribed.catch(() => async () => {}))();
    },
  };
}
