import type { AuditInput } from '../audit/event.js';
import type { UpstreamConfig } from '../config/schema.js';
import { storeKey, type Store } from '../store/store.js';

/** `upstreams[].tools.limits` entries: `*` counts every call to the upstream's tools together. */
export const EVERY_TOOL = '*';

/** Each window: the limit's field, its config key (which also names its counter and the refusal), its length. */
const PERIODS = [
  { field: 'perMinute', key: 'per_minute', windowMs: 60_000, unit: 'minute' },
  { field: 'perDay', key: 'per_day', windowMs: 24 * 60 * 60_000, unit: 'day' },
] as const;

/** Why a call may not go now, in words for the agent's model, and when it may. */
export interface QuotaRefusal {
  /** The limit that was reached, e.g. `search per_minute 10`. */
  limit: string;
  retryAfterSeconds: number;
  text: string;
}

/** The audit record of a call refused by a limit, the same on the relay and the SDK path. */
export function quotaRefusedEvent(upstreamId: string, tool: string, refusal: QuotaRefusal): AuditInput {
  return {
    event: 'policy_denied',
    outcome: 'denied',
    upstream: upstreamId,
    details: { rule: 'quota', method: 'tools/call', tool, limit: refusal.limit, retryAfterSeconds: refusal.retryAfterSeconds },
  };
}

/**
 * Quotas and per-tool rate limits (`upstreams[].tools.limits`), counted per person (a service
 * client is a person `service:{client_id}`) in the Store, so every portal process counts the
 * same calls. Each limit is a fixed window that starts with the first call it counts.
 */
export interface ToolQuotas {
  /**
   * Counts one call of `tool` (the upstream's own name) by `personId`; a refusal when a limit is
   * past. `counted` is the HTTP request's record of calls counted: one counted there is not counted again.
   */
  take(upstream: UpstreamConfig, tool: string, personId: string, counted?: Set<string>): Promise<QuotaRefusal | undefined>;
}

export function createToolQuotas(options: { store: Store; onRefused?: (upstreamId: string, tool: string) => void }): ToolQuotas {
  const { store } = options;
  return {
    async take(upstream, tool, personId, counted) {
      const mark = `${upstream.id}\n${tool}`;
      if (counted?.delete(mark)) return undefined;
      const limits = upstream.tools.limits;
      const counters = [tool, EVERY_TOOL]
        .filter((name) => Object.hasOwn(limits, name))
        .flatMap((name) =>
          PERIODS.flatMap((period) => {
            const max = limits[name]![period.field];
            const key = storeKey('tool-quota', `${upstream.id}:${personId}`, name, period.key);
            return max === undefined ? [] : [{ name, period, max, key }];
          }),
        );
      if (counters.length === 0) return undefined;
      type Counter = (typeof counters)[number];
      const refuse = async ({ name, period, max, key }: Counter): Promise<QuotaRefusal> => {
        const retryAfterSeconds = Math.max(1, Math.ceil(((await store.ttl(key)) ?? period.windowMs) / 1000));
        options.onRefused?.(upstream.id, tool);
        const scope = name === EVERY_TOOL ? `the tools of upstream "${upstream.id}"` : `tool "${tool}" of upstream "${upstream.id}"`;
        return {
          limit: `${name} ${period.key} ${max}`,
          retryAfterSeconds,
          text: `Rate limit reached: at most ${max} calls per ${period.unit} to ${scope} for you. Retry in ${retryAfterSeconds} seconds.`,
        };
      };
      // Look before counting: a call that one limit refuses must not use up what another allows
      // (an agent retrying against a per-minute limit would otherwise spend its daily quota).
      const counts = await store.getMany(counters.map((c) => c.key));
      const reached = counters.find((counter, i) => Number(counts[i] ?? 0) >= counter.max);
      if (reached) return refuse(reached);
      // Concurrent calls may all have looked before any counted: the count decides.
      for (const counter of counters) {
        if ((await store.increment(counter.key, counter.period.windowMs)) > counter.max) return refuse(counter);
      }
      counted?.add(mark);
      return undefined;
    },
  };
}
