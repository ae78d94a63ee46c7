import type { Store } from '../store/store.js';
import { verifyEvents, type VerifyReport } from './chain.js';
import type { AuditEvent } from './event.js';
import { AUDIT_STREAM } from './sinks.js';

/** Filters of `GET /admin/api/v1/audit`. Times are milliseconds since the epoch, inclusive. */
export interface AuditFilter {
  person?: string;
  client?: string;
  upstream?: string;
  event?: string;
  outcome?: string;
  from?: number;
  to?: number;
}

/** An event as read from the stream, with its stream id (the paging cursor). */
export type StoredAuditEvent = AuditEvent & { id: string };

export interface AuditPage {
  events: StoredAuditEvent[];
  /** Pass as `cursor` for the next page; absent at the end of the stream (or past `to`). */
  nextCursor?: string;
}

const BATCH = 500;
/** Entries one query reads at most before it returns a page (perhaps short) with a cursor: bounded work per request. */
const SCAN_LIMIT = 20_000;

/** Stream ids are `{ms}-{seq}` (Redis and memory alike), so a time maps straight onto a position. */
function streamMs(id: string): number {
  return Number(id.split('-')[0]);
}

function matches(event: AuditEvent, filter: AuditFilter): boolean {
  return (
    (filter.person === undefined || event.person === filter.person) &&
    (filter.client === undefined || event.client_id === filter.client) &&
    (filter.upstream === undefined || event.upstream === filter.upstream) &&
    (filter.event === undefined || event.event === filter.event) &&
    (filter.outcome === undefined || event.outcome === filter.outcome)
  );
}

function parse(entry: string): AuditEvent | undefined {
  try {
    return JSON.parse(entry) as AuditEvent;
  } catch {
    return undefined;
  }
}

/** One page of matching events, oldest first, starting after `cursor` (or at `filter.from`). */
export async function queryAudit(store: Store, filter: AuditFilter, page: { cursor?: string; limit: number }): Promise<AuditPage> {
  let afterId = page.cursor ?? (filter.from === undefined ? undefined : `${filter.from - 1}-999999999999`);
  const events: StoredAuditEvent[] = [];
  for (let scanned = 0; scanned < SCAN_LIMIT; ) {
    const batch = await store.readStream(AUDIT_STREAM, { afterId, count: BATCH });
    for (const { id, entry } of batch) {
      if (filter.to !== undefined && streamMs(id) > filter.to) return { events };
      const event = parse(entry);
      if (event && matches(event, filter)) events.push({ ...event, id });
      if (events.length >= page.limit) return { events, nextCursor: id };
    }
    if (batch.length < BATCH) return { events };
    scanned += batch.length;
    afterId = batch[batch.length - 1]!.id;
  }
  return { events, nextCursor: afterId };
}

/**
 * The newest `limit` matching events, newest first. The stream reads forward only, so this
 * widens a window back from now until it holds enough (bounded by the query's scan limit).
 */
export async function recentAudit(store: Store, filter: AuditFilter, limit: number): Promise<StoredAuditEvent[]> {
  const now = Date.now();
  let found: StoredAuditEvent[] = [];
  for (const windowMs of [5 * 60_000, 60 * 60_000, 24 * 60 * 60_000, 30 * 24 * 60 * 60_000, Number.POSITIVE_INFINITY]) {
    const from = Number.isFinite(windowMs) ? now - windowMs : undefined;
    found = [];
    let cursor: string | undefined;
    do {
      const page = await queryAudit(store, { ...filter, from }, { cursor, limit: SCAN_LIMIT });
      found.push(...page.events);
      cursor = page.nextCursor;
    } while (cursor && found.length < SCAN_LIMIT);
    if (found.length >= limit) break;
  }
  return found.slice(-limit).reverse();
}

/** Verifies the hash chains of every event still in the stream (see `verifyEvents`). */
export async function verifyAuditStream(store: Store, key: Buffer): Promise<VerifyReport> {
  const found: Array<{ event: unknown; at: string }> = [];
  let afterId: string | undefined;
  for (;;) {
    const batch = await store.readStream(AUDIT_STREAM, { afterId, count: 1_000 });
    for (const { id, entry } of batch) found.push({ event: parse(entry), at: id });
    if (batch.length < 1_000) break;
    afterId = batch[batch.length - 1]!.id;
  }
  return verifyEvents(key, found);
}
