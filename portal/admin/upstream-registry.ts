import type { Logger } from 'pino';
import { portalHostConflict } from '../apps/app-mounts.js';
import { readStaticSecret, tokenExchangeSecretProblem } from '../config/credentials-schema.js';
import { deepFreeze } from '../config/deep-freeze.js';
import { describeIssue } from '../config/issue.js';
import { upstreamSchema, type UpstreamConfig } from '../config/schema.js';
import { HttpError } from '../http/errors.js';
import { storeKey, type Store } from '../store/store.js';

/** Where an upstream is defined: the config file (read-only at runtime) or the admin API (the Store). */
export type UpstreamSource = 'config' | 'admin';

/** An admin-defined upstream as persisted: the document as given (defaults re-apply on read), and who made it when. */
interface StoredUpstream {
  document: Record<string, unknown>;
  createdAt: number;
  createdBy?: string;
  updatedAt?: number;
}

/**
 * Every upstream the portal fronts: the config file's first (in file order), then those added
 * through the admin API (in creation order). The admin ones live in one Store key, changed with
 * compare-and-set, and every portal process reloads them when another announces a change
 * (pub/sub), so an upstream added on one process is served by all without a restart.
 */
export interface UpstreamRegistry {
  /** The current upstreams (synchronous: a cache kept fresh by {@link ready} and pub/sub). */
  all(): UpstreamConfig[];
  source(id: string): UpstreamSource | undefined;
  /** Resolves once the admin-defined upstreams were loaded (retried on the next call after a failure). */
  ready(): Promise<void>;
  create(document: unknown, by?: string): Promise<UpstreamConfig>;
  update(id: string, document: unknown): Promise<UpstreamConfig>;
  remove(id: string): Promise<void>;
  close(): Promise<void>;
}

const KEY = storeKey('upstreams', 'admin');
const CHANNEL = 'upstreams:changed';
/** Keys the admin API refuses: a stdio `command` would let anyone with an admin token run programs on the portal host. */
const CONFIG_FILE_ONLY = ['command', 'env', 'cwd'] as const;

export function createUpstreamRegistry(options: {
  issuer: string;
  store: Store;
  logger: Logger;
  configured: () => readonly UpstreamConfig[];
  /** Where a `static` upstream's `value_env` must be set (the environment the config was resolved against). */
  env: NodeJS.ProcessEnv;
  refreshIntervalMs?: number;
}): UpstreamRegistry {
  const { store, logger } = options;
  let stored: Array<{ upstream: UpstreamConfig; record: StoredUpstream }> = [];
  let loading: Promise<void> | undefined;
  let unsubscribe: (() => Promise<void>) | undefined;
  let stopHearingGaps: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  // Loads may overlap (a change message, the periodic reload): a slower, older read must not undo a newer one.
  let loadsStarted = 0;
  let newestApplied = 0;

  // The stored list as last read: an unchanged list keeps its parsed objects (what per-upstream caches hold on to).
  let lastRaw: string | null | undefined;

  async function load(): Promise<void> {
    const ticket = ++loadsStarted;
    const raw = await store.get(KEY);
    if (ticket < newestApplied) return;
    newestApplied = ticket;
    if (raw === lastRaw) return;
    const records = raw === null ? [] : (JSON.parse(raw) as StoredUpstream[]);
    const next: typeof stored = [];
    for (const record of records) {
      const parsed = upstreamSchema.safeParse(record.document);
      // A record that no longer validates (the schema tightened, the issuer moved onto its host) is skipped loudly, never served half-understood.
      const problem = parsed.success ? hostProblem(parsed.data) : describeIssue(parsed.error, record.document, upstreamSchema);
      // Frozen like the config file's: the definition is shared by every request and must not drift.
      if (parsed.success && !problem) next.push({ upstream: deepFreeze(parsed.data), record });
      else logger.error({ upstream: record.document.id, problem }, 'stored upstream is invalid: not served');
    }
    lastRaw = raw;
    stored = next;
  }

  /**
   * A reload that fails (the store slow or away for a moment) is tried again soon, backing off,
   * rather than at the next periodic reload: until it succeeds this process serves a stale list.
   */
  let retry: NodeJS.Timeout | undefined;
  async function reload(delayMs = 100): Promise<void> {
    clearTimeout(retry);
    retry = undefined;
    try {
      await load();
    } catch (error) {
      logger.warn({ err: error, retryInMs: delayMs }, 'could not reload upstreams');
      if (closed) return;
      retry = setTimeout(() => void reload(Math.min(delayMs * 2, 5_000)), delayMs);
      retry.unref();
    }
  }

  function start(): Promise<void> {
    loading ??= (async () => {
      await load();
      unsubscribe = await store.subscribe(CHANNEL, () => void reload());
      // A change announced while this process was cut off from the store is read on reconnection;
      // a reload every few seconds (one read, parsed only when the list changed) bounds how long
      // anything else that went missing can leave this process behind.
      stopHearingGaps ??= store.onMessagesMissed(() => void reload());
      timer = setInterval(() => void reload(), options.refreshIntervalMs ?? 5_000);
      timer.unref();
    })().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  }

  // Read on every request, changed only by a reload: the merged list is kept until either side changes.
  let merged: { configured: readonly UpstreamConfig[]; stored: typeof stored; list: UpstreamConfig[] } | undefined;
  function all(): UpstreamConfig[] {
    const configured = options.configured();
    if (merged?.configured !== configured || merged.stored !== stored) {
      const ids = new Set(configured.map((u) => u.id));
      merged = { configured, stored, list: [...configured, ...stored.map((s) => s.upstream).filter((u) => !ids.has(u.id))] };
    }
    return merged.list;
  }

  /** Read-modify-write of the stored list under compare-and-set, then tell every process. */
  async function change(mutate: (records: StoredUpstream[]) => StoredUpstream[]): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const raw = await store.get(KEY);
      const records = mutate(raw === null ? [] : (JSON.parse(raw) as StoredUpstream[]));
      if (await store.compareAndSet(KEY, raw, JSON.stringify(records))) {
        await load();
        await store.publish(CHANNEL, 'changed');
        return;
      }
    }
    throw new HttpError(503, 'temporarily_unavailable', 'upstreams are being changed concurrently; try again');
  }

  function validate(document: unknown, id?: string): { upstream: UpstreamConfig; document: Record<string, unknown> } {
    if (!document || typeof document !== 'object' || Array.isArray(document))
      throw new HttpError(400, 'invalid_upstream', 'body: must be a JSON object');
    const given = { ...(document as Record<string, unknown>), ...(id === undefined ? {} : { id }) };
    const forbidden = CONFIG_FILE_ONLY.find((key) => key in given);
    if (forbidden) throw new HttpError(400, 'invalid_upstream', `${forbidden}: stdio upstreams can only be defined in the config file`);
    const parsed = upstreamSchema.safeParse(given);
    if (!parsed.success) {
      const { key, problem } = describeIssue(parsed.error, given, upstreamSchema);
      throw new HttpError(400, 'invalid_upstream', `${key || 'body'}: ${problem}`);
    }
    const problem = hostProblem(parsed.data);
    if (problem) throw new HttpError(400, 'invalid_upstream', `${problem.key}: ${problem.problem}`);
    // As at start-up for the config file: a static credential whose variable is not set would send nothing.
    const { credentials } = parsed.data;
    const secret = credentials.type === 'static' ? readStaticSecret(credentials.valueEnv!, options.env) : undefined;
    if (secret && 'problem' in secret) throw new HttpError(400, 'invalid_upstream', `credentials.value_env: ${secret.problem}`);
    const exchangeProblem = tokenExchangeSecretProblem(credentials, options.env);
    if (exchangeProblem) throw new HttpError(400, 'invalid_upstream', `credentials.${exchangeProblem.key}: ${exchangeProblem.problem}`);
    return { upstream: parsed.data, document: given };
  }

  /** What the schema cannot know: whether the upstream's `host` is the portal's own. */
  function hostProblem(upstream: UpstreamConfig): { key: string; problem: string } | undefined {
    const conflict = portalHostConflict(options.issuer, upstream);
    return conflict ? { key: 'host', problem: conflict } : undefined;
  }

  function assertHostFree(upstream: UpstreamConfig, records: StoredUpstream[], exceptId?: string): void {
    if (!upstream.host) return;
    const taken = [...options.configured(), ...records.map((r) => r.document as { id?: string; host?: string })].some(
      (u) => u.id !== exceptId && u.host === upstream.host,
    );
    if (taken) throw new HttpError(409, 'conflict', `host: "${upstream.host}" is already the host of another upstream`);
  }

  return {
    all,
    source: (id) =>
      options.configured().some((u) => u.id === id) ? 'config' : stored.some((s) => s.upstream.id === id) ? 'admin' : undefined,
    ready: start,
    async create(document, by) {
      const { upstream, document: given } = validate(document);
      await change((records) => {
        if (options.configured().some((u) => u.id === upstream.id) || records.some((r) => r.document.id === upstream.id)) {
          throw new HttpError(409, 'conflict', `id: an upstream "${upstream.id}" already exists`);
        }
        assertHostFree(upstream, records);
        return [...records, { document: given, createdAt: Date.now(), createdBy: by }];
      });
      return upstream;
    },
    async update(id, document) {
      if (options.configured().some((u) => u.id === id))
        throw new HttpError(409, 'read_only', `upstream "${id}" is defined in the config file and cannot be changed here`);
      const { upstream, document: given } = validate(document, id);
      await change((records) => {
        const index = records.findIndex((r) => r.document.id === id);
        if (index < 0) throw new HttpError(404, 'not_found', `no upstream "${id}"`);
        assertHostFree(upstream, records, id);
        return records.map((r, i) => (i === index ? { ...r, document: given, updatedAt: Date.now() } : r));
      });
      return upstream;
    },
    async remove(id) {
      if (options.configured().some((u) => u.id === id))
        throw new HttpError(409, 'read_only', `upstream "${id}" is defined in the config file and cannot be removed here`);
      await change((records) => {
        if (!records.some((r) => r.document.id === id)) throw new HttpError(404, 'not_found', `no upstream "${id}"`);
        return records.filter((r) => r.document.id !== id);
      });
    },
    async close() {
      closed = true;
      clearInterval(timer);
      clearTimeout(retry);
      stopHearingGaps?.();
      await unsubscribe?.().catch(() => {});
    },
  };
}

/** `url: must be an http(s) URL`: the first problem, naming the field as the config file would. */
