import type { Notification } from '@modelcontextprotocol/client';
import type {
  ConnectOptions,
  McpUpstream,
  McpUpstreamConnection,
  McpUpstreamDeps,
  McpUpstreamOptions,
  UpstreamProcessEvent,
} from './mcp-upstream-types.js';
import { startStdioProcess, type StdioProcess } from './stdio-process.js';
import { UpstreamBusyError, type UpstreamError } from './upstream-errors.js';

const DEFAULT_MAX_PROCESSES = 20;
const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;

/** One owner's process and the connections holding it. */
interface OwnerSlot {
  ownerKey: string;
  /** Settles once the process is initialized; the slot counts against the bound from the start. */
  ready: Promise<StdioProcess>;
  process?: StdioProcess;
  leases: Set<Lease>;
  /** When the last lease was released: eviction picks the oldest idle slot. */
  idleSince: number;
  idleTimer?: NodeJS.Timeout;
}

interface Lease {
  options: ConnectOptions;
  closed: boolean;
}

/**
 * An upstream MCP server run as a child process over stdio, **one process per owner**: a
 * stdio server keeps its state in the process (and often in files it opens), so people
 * must never share one. A person's concurrent connections share that person's process.
 *
 * - At most `maxProcesses` processes; a new owner evicts the idle process released longest
 *   ago, and gets {@link UpstreamBusyError} when every process has a connection open.
 * - A process nobody holds is stopped after `idleTimeoutMs`.
 * - A process that exits by itself fails its in-flight calls and its connections'
 *   `onClose` with `ERR_UPSTREAM_CRASHED`, is reported as a `crashed` event, and the
 *   owner's next connect starts a fresh one.
 *
 * The process is initialized with the first connection's `clientCapabilities`. Its
 * notifications (and relayed progress) go to every connection of that owner; a
 * server→client request goes to the most recent connection that can answer one.
 */
export function createStdioUpstream(options: McpUpstreamOptions, deps: McpUpstreamDeps): McpUpstream {
  const maxProcesses = options.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const slots = new Map<string, OwnerSlot>();
  // Where the era of this command is remembered (the era cache is keyed like a URL).
  const eraKey = `stdio:${JSON.stringify(options.command)}`;
  const emit = (type: UpstreamProcessEvent['type'], slot: OwnerSlot, error?: UpstreamError): void => {
    deps.onProcessEvent?.({ type, upstreamId: options.id, ownerKey: slot.ownerKey, pid: slot.process?.pid, error });
  };

  async function connect(connectOptions: ConnectOptions): Promise<McpUpstreamConnection> {
    const { ownerKey } = connectOptions;
    // Choosing a victim and claiming the slot happen synchronously, so concurrent connects
    // never push the count past the bound.
    const slot = slots.get(ownerKey) ?? startSlot(connectOptions, makeRoom());
    const lease: Lease = { options: connectOptions, closed: false };
    slot.leases.add(lease);
    clearTimeout(slot.idleTimer);
    let process: StdioProcess;
    try {
      process = await slot.ready;
    } catch (error) {
      slot.leases.delete(lease);
      throw error;
    }
    return leaseConnection(slot, lease, process);
  }

  /** Frees a slot for a new owner: stops the oldest idle process, or refuses when all are in use. */
  function makeRoom(): Promise<void> {
    if (slots.size < maxProcesses) return Promise.resolve();
    const idle = [...slots.values()].filter((slot) => slot.leases.size === 0 && slot.process).sort((a, b) => a.idleSince - b.idleSince);
    const victim = idle[0];
    if (!victim) throw new UpstreamBusyError(options.id, maxProcesses);
    emit('evicted', victim);
    return stopSlot(victim);
  }

  /** Claims the owner's slot now and starts the process once `roomMade` (an eviction) has settled. */
  function startSlot(connectOptions: ConnectOptions, roomMade: Promise<void>): OwnerSlot {
    const slot: OwnerSlot = {
      ownerKey: connectOptions.ownerKey,
      ready: undefined as unknown as Promise<StdioProcess>,
      leases: new Set(),
      idleSince: Date.now(),
    };
    slot.ready = roomMade
      .then(async () =>
        startStdioProcess({
          upstream: options,
          ownerKey: slot.ownerKey,
          logger: deps.logger,
          clientCapabilities: connectOptions.clientCapabilities,
          clientInfo: connectOptions.clientInfo,
          protocolVersion: connectOptions.protocolVersion,
          era: await deps.eras?.get(options.id, eraKey),
          onEra: (era) => void deps.eras?.set(options.id, eraKey, era).catch(() => {}),
          onNotification: (notification) => broadcast(slot, notification),
          requestHandler: () => [...slot.leases].reverse().find((lease) => lease.options.onRequest)?.options.onRequest,
          onCrash: (error) => crashed(slot, error),
        }),
      )
      .then(
        (process) => {
          slot.process = process;
          emit('started', slot);
          return process;
        },
        (error: unknown) => {
          if (slots.get(slot.ownerKey) === slot) slots.delete(slot.ownerKey);
          throw error;
        },
      );
    slots.set(slot.ownerKey, slot);
    return slot;
  }

  function crashed(slot: OwnerSlot, error: UpstreamError): void {
    if (slots.get(slot.ownerKey) === slot) slots.delete(slot.ownerKey);
    clearTimeout(slot.idleTimer);
    emit('crashed', slot, error);
    for (const lease of slot.leases) endLease(lease, error);
    slot.leases.clear();
  }

  async function stopSlot(slot: OwnerSlot): Promise<void> {
    if (slots.get(slot.ownerKey) === slot) slots.delete(slot.ownerKey);
    clearTimeout(slot.idleTimer);
    for (const lease of slot.leases) endLease(lease);
    slot.leases.clear();
    const process = await slot.ready.catch(() => undefined);
    await process?.stop();
  }

  function release(slot: OwnerSlot, lease: Lease, stopWhenUnused: boolean): Promise<void> {
    if (lease.closed) return Promise.resolve();
    endLease(lease);
    slot.leases.delete(lease);
    if (slot.leases.size > 0 || slots.get(slot.ownerKey) !== slot) return Promise.resolve();
    slot.idleSince = Date.now();
    if (stopWhenUnused) {
      emit('stopped', slot);
      return stopSlot(slot);
    }
    slot.idleTimer = setTimeout(() => {
      if (slot.leases.size > 0) return;
      emit('stopped-idle', slot);
      void stopSlot(slot);
    }, idleTimeoutMs);
    // An idle timer must not keep the portal (or a test run) alive.
    slot.idleTimer.unref();
    return Promise.resolve();
  }

  function leaseConnection(slot: OwnerSlot, lease: Lease, process: StdioProcess): McpUpstreamConnection {
    return {
      upstreamId: options.id,
      transportKind: 'stdio',
      client: process.client,
      pid: process.pid,
      resumed: false,
      close: () => release(slot, lease, false),
      terminate: () => release(slot, lease, true),
    };
  }

  return {
    id: options.id,
    kind: 'stdio',
    connect,
    async close() {
      const all = [...slots.values()];
      for (const slot of all) emit('stopped', slot);
      await Promise.allSettled(all.map(stopSlot));
    },
  };
}

function endLease(lease: Lease, error?: UpstreamError): void {
  if (lease.closed) return;
  lease.closed = true;
  lease.options.onClose?.(error);
}

async function broadcast(slot: OwnerSlot, notification: Notification): Promise<void> {
  await Promise.allSettled([...slot.leases].map(async (lease) => lease.options.onNotification?.(notification)));
}
