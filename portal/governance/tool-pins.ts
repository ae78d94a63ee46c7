import type { Tool } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { canonicalJson } from '../audit/chain.js';
import type { AuditInput } from '../audit/event.js';
import { sha256 } from '../crypto/hash.js';
import { storeKey, type Store } from '../store/store.js';

/** `upstreams[].tools.pinning`: hold changed and new tools (`enforce`), serve them flagged (`warn`), or trust every definition (`off`). */
export type PinningMode = 'enforce' | 'warn' | 'off';
export const PINNING_MODES = ['enforce', 'warn', 'off'] as const;

/**
 * Where a tool stands against its pin: `pinned` (as approved), `changed` (differs from its pin),
 * `new` (not there at the first sync), `rejected` (an administrator refused what it is now).
 */
export type PinStatus = 'pinned' | 'changed' | 'new' | 'rejected';

/** What of a tool is pinned: every field that tells the model what the tool does. */
export type ToolDefinition = Pick<Tool, 'name' | 'title' | 'description' | 'inputSchema' | 'outputSchema' | 'annotations'>;

export interface PinnedDefinition {
  hash: string;
  definition: ToolDefinition;
}

/** One tool's pin, as stored. */
export interface ToolPin {
  status: PinStatus;
  /** What an administrator approved (or the first sync saw); absent for a tool that was never approved. */
  pinned?: PinnedDefinition;
  /** What the upstream lists now, when it differs from `pinned`. */
  current?: PinnedDefinition;
  /** When the status last changed (ISO 8601). */
  since: string;
}

/** Every pin of one upstream; its existence means the first sync happened. */
interface PinBook {
  tools: Record<string, ToolPin>;
}

/** What to do with a tool: list and call it, do so with a flag (`warn`), or hold it back. */
export type PinVerdict = 'serve' | 'flag' | 'hold';

/**
 * Rug-pull protection: the definitions an upstream's tools had when first seen are pinned (trust
 * on first use), kept in the Store for every portal process. A tool whose definition later
 * differs from its pin, or that appears after the first sync, waits for an administrator; what
 * `check` says of it follows `upstreams[].tools.pinning`. Reads come from a copy in the process
 * (loaded once per upstream, dropped in every process when a pin changes), so the relay checks
 * synchronously.
 */
export interface ToolPins {
  /** Makes `check` and `checkCall` current for this upstream (a Store read the first time, and after a change). */
  load(upstreamId: string): Promise<void>;
  /** The verdict for a tool as the upstream lists it (its own name and definition); `mode` from the upstream's config. */
  check(upstreamId: string, mode: PinningMode, tool: Tool): PinVerdict;
  /** The verdict for a call by the upstream's own tool name. */
  checkCall(upstreamId: string, mode: PinningMode, name: string): PinVerdict;
  /** Whether the upstream's first sync happened (its tools are pinned), as far as this process has loaded. */
  synced(upstreamId: string): boolean;
  /**
   * Records what an upstream lists: at the first sync (only from a `complete` listing, every page)
   * pins it, later marks what changed or is new since.
   */
  observe(upstreamId: string, mode: PinningMode, tools: Tool[], complete: boolean): Promise<void>;
  /** Every pin of an upstream, by tool name (empty before the first sync). */
  list(upstreamId: string): Promise<Record<string, ToolPin>>;
  /** Pins what the upstream lists now; `undefined` when there is no such tool, or nothing to approve. */
  approve(upstreamId: string, name: string): Promise<ToolPin | undefined>;
  /** Refuses what the upstream lists now; `undefined` when there is no such tool. */
  reject(upstreamId: string, name: string): Promise<ToolPin | undefined>;
  /**
   * Called (in every process) after an upstream's pins changed: its agents' tool lists changed too.
   * `cause` says whether a listing changed them (the upstream announced that change itself) or an
   * administrator's verdict did (nothing but the portal tells agents).
   */
  onChange(listener: (upstreamId: string, cause: PinChangeCause) => void): void;
  close(): Promise<void>;
}

/** What changed an upstream's pins: what it listed, or an administrator approving or rejecting a tool. */
export type PinChangeCause = 'listing' | 'verdict';

/** In a listed tool's `_meta` under `pinning: warn`: its definition is not the one an administrator approved. */
export const UNAPPROVED_META_KEY = 'gatehouse/unapproved-definition';

/** The tool error a call to a held tool gets. */
export function heldToolText(upstreamId: string, shownName: string): string {
  return `Tool "${shownName}" of upstream "${upstreamId}" is new or changed since an administrator approved it; it awaits an administrator's approval.`;
}

const CHANNEL = 'mcp:tool-pins';
/** How long a process trusts its copy of a book without a change message (one may have been missed). */
const LOCAL_TTL_MS = 30_000;
/** Compare-and-set rounds before a write gives up (another process keeps writing the same book). */
const MAX_WRITE_ROUNDS = 20;

/** The hash a tool is pinned by: SHA-256 of its definition in canonical JSON. */
export function definitionOf(tool: Tool): PinnedDefinition {
  const { name, title, description, inputSchema, outputSchema, annotations } = tool;
  const definition = JSON.parse(JSON.stringify({ name, title, description, inputSchema, outputSchema, annotations })) as ToolDefinition;
  return { hash: sha256(canonicalJson(definition)), definition };
}

export function createToolPins(options: { store: Store; logger: Logger; audit: (input: AuditInput) => void; now?: () => Date }): ToolPins {
  const { store, logger, audit } = options;
  const now = options.now ?? (() => new Date());
  const key = (upstreamId: string) => storeKey('tool-pins', upstreamId);
  /** The books this process has read (`null`: the upstream has none yet), and until when they are trusted. */
  const books = new Map<string, PinBook | null>();
  const loadedUntil = new Map<string, number>();
  const clock = () => now().getTime();
  /** Hashes of the tool objects seen (list pages are cached, so the same objects come again). */
  const hashes = new WeakMap<Tool, PinnedDefinition>();
  const listeners: Array<(upstreamId: string, cause: PinChangeCause) => void> = [];

  const subscribed = store.subscribe(CHANNEL, (message) => {
    const { upstream: upstreamId, cause } = JSON.parse(message) as { upstream: string; cause: PinChangeCause };
    books.delete(upstreamId);
    loadedUntil.delete(upstreamId);
    for (const listener of listeners) listener(upstreamId, cause);
  });
  subscribed.catch((error: unknown) => logger.warn({ err: error }, 'tool pins: no changes from other processes'));
  // Changes announced while this process was cut off from the store are lost: read every book again.
  const stopHearingGaps = store.onMessagesMissed(() => {
    books.clear();
    loadedUntil.clear();
  });

  function hashOf(tool: Tool): PinnedDefinition {
    let known = hashes.get(tool);
    if (!known) hashes.set(tool, (known = definitionOf(tool)));
    return known;
  }

  async function read(upstreamId: string): Promise<PinBook | null> {
    const raw = await store.get(key(upstreamId));
    return raw === null ? null : (JSON.parse(raw) as PinBook);
  }

  /** Applies `change` to the stored book until no other process wrote in between; resolves what `change` returned. */
  async function write<T>(
    upstreamId: string,
    cause: PinChangeCause,
    change: (book: PinBook | null) => { book: PinBook; result: T } | undefined,
  ): Promise<T | undefined> {
    for (let round = 0; round < MAX_WRITE_ROUNDS; round++) {
      const raw = await store.get(key(upstreamId));
      const changed = change(raw === null ? null : (JSON.parse(raw) as PinBook));
      if (!changed) return undefined;
      if (await store.compareAndSet(key(upstreamId), raw, JSON.stringify(changed.book))) {
        books.set(upstreamId, changed.book);
        loadedUntil.set(upstreamId, clock() + LOCAL_TTL_MS);
        await store.publish(CHANNEL, JSON.stringify({ upstream: upstreamId, cause }));
        return changed.result;
      }
    }
    throw new Error(`tool pins of "${upstreamId}": too many concurrent writes`);
  }

  function verdictOf(pin: ToolPin | undefined, hash: string, mode: PinningMode): PinVerdict {
    if (pin?.status === 'pinned' && pin.pinned?.hash === hash) return 'serve';
    if (pin?.status === 'rejected' && pin.current?.hash === hash) return 'hold';
    return mode === 'warn' ? 'flag' : 'hold';
  }

  return {
    async load(upstreamId) {
      if (books.has(upstreamId) && (loadedUntil.get(upstreamId) ?? 0) > clock()) return;
      // Listening first: a change made after this read is never missed.
      await subscribed.catch(() => {});
      books.set(upstreamId, await read(upstreamId));
      loadedUntil.set(upstreamId, clock() + LOCAL_TTL_MS);
    },

    check(upstreamId, mode, tool) {
      if (mode === 'off') return 'serve';
      const book = books.get(upstreamId);
      // Before the first sync every tool is trusted: observing it pins it.
      if (!book) return 'serve';
      return verdictOf(book.tools[tool.name], hashOf(tool).hash, mode);
    },

    checkCall(upstreamId, mode, name) {
      if (mode === 'off') return 'serve';
      const book = books.get(upstreamId);
      if (!book) return 'serve';
      const pin = book.tools[name];
      // A tool no listing showed since the first sync is new.
      if (pin?.status === 'pinned') return 'serve';
      return pin?.status === 'rejected' || mode === 'enforce' ? 'hold' : 'flag';
    },

    synced(upstreamId) {
      return Boolean(books.get(upstreamId));
    },

    async observe(upstreamId, mode, tools, complete) {
      if (mode === 'off') return;
      if (!complete && !books.get(upstreamId)) return;
      const seen = tools.map((tool) => hashOf(tool));
      const book = books.get(upstreamId);
      // Nothing this process has not recorded already: no write.
      const recorded = (pin: ToolPin | undefined, hash: string) =>
        pin?.status === 'pinned' ? pin.pinned?.hash === hash : pin?.current?.hash === hash;
      if (book && seen.every(({ hash, definition }) => recorded(book.tools[definition.name], hash))) return;
      const since = now().toISOString();
      const noticed = await write(upstreamId, 'listing', (stored) => {
        // Trust on first use needs the whole listing: a page alone would make the other pages' tools "new".
        if (!stored && !complete) return undefined;
        const next: PinBook = { tools: { ...stored?.tools } };
        const changes: Array<{ name: string; pin: ToolPin }> = [];
        for (const definition of seen) {
          const { name } = definition.definition;
          const pin = next.tools[name];
          if (!stored) next.tools[name] = { status: 'pinned', pinned: definition, since };
          else if (!pin) changes.push({ name, pin: (next.tools[name] = { status: 'new', current: definition, since }) });
          else if (pin.pinned?.hash === definition.hash) {
            // Back to what was approved (or approved meanwhile): nothing waits any more.
            if (pin.status !== 'pinned') next.tools[name] = { status: 'pinned', pinned: pin.pinned, since };
          } else if (pin.current?.hash !== definition.hash) {
            changes.push({
              name,
              pin: (next.tools[name] = { status: pin.pinned ? 'changed' : 'new', pinned: pin.pinned, current: definition, since }),
            });
          }
        }
        const unchanged = stored && JSON.stringify(next) === JSON.stringify(stored);
        return unchanged ? undefined : { book: next, result: changes };
      });
      for (const { name, pin } of noticed ?? []) {
        audit({
          event: 'tool_definition_changed',
          outcome: 'success',
          upstream: upstreamId,
          details: { tool: name, status: pin.status, pinnedHash: pin.pinned?.hash, currentHash: pin.current?.hash, pinning: mode },
        });
      }
    },

    async list(upstreamId) {
      return (await read(upstreamId))?.tools ?? {};
    },

    approve(upstreamId, name) {
      const since = now().toISOString();
      return write(upstreamId, 'verdict', (stored) => {
        const pin = stored?.tools[name];
        if (!stored || !pin?.current) return undefined;
        const approved: ToolPin = { status: 'pinned', pinned: pin.current, since };
        return { book: { tools: { ...stored.tools, [name]: approved } }, result: approved };
      });
    },

    reject(upstreamId, name) {
      const since = now().toISOString();
      return write(upstreamId, 'verdict', (stored) => {
        const pin = stored?.tools[name];
        if (!stored || !pin) return undefined;
        const rejected: ToolPin = {
          status: 'rejected',
          ...(pin.pinned ? { pinned: pin.pinned } : {}),
          current: pin.current ?? pin.pinned,
          since,
        };
        return { book: { tools: { ...stored.tools, [name]: rejected } }, result: rejected };
      });
    },

    onChange(listener) {
      listeners.push(listener);
    },

    async close() {
      stopHearingGaps();
      await (await subscribed.catch(() => async () => {}))();
    },
  };
}
