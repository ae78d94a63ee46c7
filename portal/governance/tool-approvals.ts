import { canonicalJson } from '../audit/chain.js';
import type { UpstreamConfig } from '../config/schema.js';
import { randomToken, sha256 } from '../crypto/hash.js';
import type { Sealer } from '../crypto/seal.js';
import type { Person } from '../login/person.js';
import { storeKey, type Store } from '../store/store.js';

/** Where a request for approval stands. `used`: approved, and the call it allowed went ahead. */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'used';

/** One tool call waiting for (or given) its person's approval, as stored (sealed: its arguments are the person's). */
export interface ApprovalRequest {
  /** Unguessable; names the page `{issuer}/approve/{id}`. */
  id: string;
  /** The person the call acts as: the only one who may see and decide it. */
  personId: string;
  /** The agent: its OAuth client. */
  client: { id: string; name?: string };
  upstreamId: string;
  /** The upstream's own tool name. */
  tool: string;
  arguments: Record<string, unknown>;
  /** SHA-256 of the arguments' canonical JSON: a retry must send the same. */
  argumentsHash: string;
  status: ApprovalStatus;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Until when it may be decided (pending), or used by its call (approved). */
  expiresAt: number;
  decidedAt?: number;
  /** `tools.approval_ttl`: after an approval the same person and agent call the tool this long without asking. */
  standingMs: number;
  /** `tools.approval_timeout`. */
  timeoutMs: number;
}

/** A call to a tool that needs approval, as far as the approval cares. */
export interface ApprovalCall {
  person: Pick<Person, 'id' | 'idp'>;
  client: { id: string; name?: string };
  upstream: Pick<UpstreamConfig, 'id' | 'tools'>;
  /** The upstream's own tool name. */
  tool: string;
  arguments: Record<string, unknown> | undefined;
}

/**
 * What such a call may do now: go (a standing approval, or an approved request it used up), ask
 * the person (the request, new or still pending from an identical call), learn that the person
 * denied an identical call (said once: the next identical call asks anew), or nothing at all (a
 * service client: no person can approve it).
 */
export type ApprovalGate =
  | { kind: 'go'; via: 'standing' | 'approved'; request?: ApprovalRequest }
  | { kind: 'ask'; request: ApprovalRequest; created: boolean; url: string }
  | { kind: 'denied'; request: ApprovalRequest }
  | { kind: 'refuse' };

/** How a wait for the person ended. `taken`: an identical call used the approval first. */
export type ApprovalOutcome = 'approved' | 'denied' | 'expired' | 'taken' | 'cancelled';

/** A decision: made, or refused because the request is unknown (expired, another person's) or was decided already. */
export type ApprovalDecision = { decided: ApprovalRequest } | { refused: 'unknown' } | { refused: 'decided'; request: ApprovalRequest };

/**
 * Human approval of sensitive tool calls (`upstreams[].tools.approval`). A call to such a tool
 * raises a request in the Store, which its person decides on a portal page; any portal process
 * may serve the page, the call that waits, or the retry that uses the approval. An approval is
 * good for one call with the same person, agent, tool and arguments (`approval_ttl` adds a
 * standing approval of the tool for that person and agent); a decision is made once.
 */
export interface ToolApprovals {
  /** Whether `call` may go now; otherwise the request the person must decide. */
  gate(call: ApprovalCall): Promise<ApprovalGate>;
  /** Waits for the person to decide `request`; an approval is used up by this call (woken by pub/sub, polled as well). */
  wait(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome>;
  /** The request, while it is not expired. */
  find(id: string): Promise<ApprovalRequest | undefined>;
  /** Allows or denies `personId`'s pending request, once. */
  decide(id: string, personId: string, decision: 'allow' | 'deny'): Promise<ApprovalDecision>;
  /** `personId`'s requests still waiting for a decision, oldest first (for their home page). */
  pendingFor(personId: string): Promise<ApprovalRequest[]>;
  /** `{issuer}/approve/{id}`. */
  urlOf(id: string): string;
}

/** How often a waiting call looks at its request, should a pub/sub message have been lost. */
const POLL_MS = 2_000;

export function createToolApprovals(options: {
  store: Store;
  sealer: Sealer;
  issuer: string;
  now?: () => number;
  pollMs?: number;
}): ToolApprovals {
  const { store, sealer, issuer } = options;
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? POLL_MS;
  const requestKey = (id: string) => storeKey('tool-approval', sha256(id));
  const channel = (id: string) => `tool-approval:{${sha256(id)}}:decided`;
  const aad = (id: string) => `tool-approval\n${id}`;
  const urlOf = (id: string) => `${issuer}/approve/${id}`;
  // What an identical call (same person, agent, tool, arguments) finds; a standing approval is per person, agent and tool.
  const matchKey = (call: ApprovalCall, argumentsHash: string) =>
    storeKey('tool-approval-match', call.person.id, sha256(canonicalJson([call.client.id, call.upstream.id, call.tool, argumentsHash])));
  const standingKey = (personId: string, clientId: string, upstreamId: string, tool: string) =>
    storeKey('tool-approval-standing', personId, sha256(canonicalJson([clientId, upstreamId, tool])));
  // A person's requests, for their home page.
  const personKey = (personId: string) => storeKey('tool-approval-person', personId);

  async function read(id: string): Promise<{ raw: string; request: ApprovalRequest } | undefined> {
    const raw = await store.get(requestKey(id));
    if (raw === null) return undefined;
    let request: ApprovalRequest;
    try {
      request = JSON.parse(sealer.open(raw, aad(id))) as ApprovalRequest;
    } catch {
      return undefined;
    }
    return request.expiresAt > now() ? { raw, request } : undefined;
  }

  /** Moves `from` to `next` unless another process changed it first. */
  async function replace(from: { raw: string; request: ApprovalRequest }, next: ApprovalRequest): Promise<boolean> {
    const ttlMs = Math.max(1, next.expiresAt - now());
    return store.compareAndSet(requestKey(next.id), from.raw, sealer.seal(JSON.stringify(next), aad(next.id)), { ttlMs });
  }

  /** Uses an approval up: of two calls that found it, one goes. */
  const use = (found: { raw: string; request: ApprovalRequest }) => replace(found, { ...found.request, status: 'used' });

  async function raise(call: ApprovalCall, argumentsHash: string): Promise<ApprovalRequest> {
    const { approvalTtlMs: standingMs, approvalTimeoutMs: timeoutMs } = call.upstream.tools;
    const createdAt = now();
    const request: ApprovalRequest = {
      id: randomToken(18),
      personId: call.person.id,
      client: call.client,
      upstreamId: call.upstream.id,
      tool: call.tool,
      arguments: call.arguments ?? {},
      argumentsHash,
      status: 'pending',
      createdAt,
      expiresAt: createdAt + timeoutMs,
      standingMs,
      timeoutMs,
    };
    await store.set(requestKey(request.id), sealer.seal(JSON.stringify(request), aad(request.id)), { ttlMs: timeoutMs });
    // A decided approval waits `timeoutMs` more for its call: the index outlives the pending request by as much.
    await store.set(matchKey(call, argumentsHash), request.id, { ttlMs: 2 * timeoutMs });
    // The index has no expiry of its own: each new request prunes what was decided or expired.
    await pendingFor(request.personId);
    await store.addToSet(personKey(request.personId), request.id);
    return request;
  }

  async function pendingFor(personId: string): Promise<ApprovalRequest[]> {
    const pending: ApprovalRequest[] = [];
    for (const id of await store.setMembers(personKey(personId))) {
      const found = await read(id);
      if (found?.request.status === 'pending' && found.request.personId === personId) pending.push(found.request);
      else await store.removeFromSet(personKey(personId), id);
    }
    return pending.sort((a, b) => a.createdAt - b.createdAt);
  }

  return {
    async gate(call) {
      // Nobody signs in as a service client: nobody could approve its call.
      if (call.person.idp === 'service') return { kind: 'refuse' };
      const argumentsHash = sha256(canonicalJson(call.arguments ?? {}));
      if (
        call.upstream.tools.approvalTtlMs > 0 &&
        (await store.get(standingKey(call.person.id, call.client.id, call.upstream.id, call.tool))) !== null
      ) {
        return { kind: 'go', via: 'standing' };
      }
      const match = matchKey(call, argumentsHash);
      const matched = await store.get(match);
      const stored = matched === null ? undefined : await read(matched);
      // The index only points; what the request itself says decides (it is sealed, the index is not).
      const found = stored && isFor(stored.request, call, argumentsHash) ? stored : undefined;
      if (found?.request.status === 'approved' && (await use(found))) return { kind: 'go', via: 'approved', request: found.request };
      if (found?.request.status === 'pending') return { kind: 'ask', request: found.request, created: false, url: urlOf(found.request.id) };
      if (found?.request.status === 'denied' && (await store.take(match)) === matched) return { kind: 'denied', request: found.request };
      const request = await raise(call, argumentsHash);
      return { kind: 'ask', request, created: true, url: urlOf(request.id) };
    },

    async wait(request, signal) {
      // A message between a look and the next wait is not lost: it marks the wait as nudged.
      let nudged = false;
      const idle = () => void (nudged = true);
      let nudge: () => void = idle;
      const unsubscribe = await store.subscribe(channel(request.id), () => nudge());
      const onAbort = () => nudge();
      signal.addEventListener('abort', onAbort, { once: true });
      // A decision announced while this process was cut off from the store: look again.
      const stopHearingGaps = store.onMessagesMissed(() => nudge());
      try {
        for (;;) {
          nudged = false;
          if (signal.aborted) return 'cancelled';
          const found = await read(request.id);
          if (!found) return 'expired';
          const { status } = found.request;
          if (status === 'approved') return (await use(found)) ? 'approved' : 'taken';
          if (status === 'denied') return 'denied';
          if (status === 'used') return 'taken';
          const left = found.request.expiresAt - now();
          if (left <= 0) return 'expired';
          await new Promise<void>((resolve) => {
            if (nudged) return resolve();
            const done = () => {
              clearTimeout(timer);
              nudge = idle;
              resolve();
            };
            const timer = setTimeout(done, Math.min(pollMs, left));
            nudge = done;
          });
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        stopHearingGaps();
        await unsubscribe().catch(() => {});
      }
    },

    async find(id) {
      return (await read(id))?.request;
    },

    async decide(id, personId, decision) {
      const found = await read(id);
      if (!found || found.request.personId !== personId) return { refused: 'unknown' };
      if (found.request.status !== 'pending') return { refused: 'decided', request: found.request };
      const decidedAt = now();
      // An approval waits `timeoutMs` for its call (the agent may retry only after the person decided).
      const decided: ApprovalRequest = {
        ...found.request,
        status: decision === 'allow' ? 'approved' : 'denied',
        decidedAt,
        expiresAt: decidedAt + found.request.timeoutMs,
      };
      if (!(await replace(found, decided))) {
        const current = await read(id);
        return current ? { refused: 'decided', request: current.request } : { refused: 'unknown' };
      }
      if (decided.status === 'approved' && decided.standingMs > 0) {
        await store.set(standingKey(decided.personId, decided.client.id, decided.upstreamId, decided.tool), '1', {
          ttlMs: decided.standingMs,
        });
      }
      await store.publish(channel(id), decided.status);
      return { decided };
    },

    pendingFor,
    urlOf,
  };
}

/** Whether `request` was raised for this very call: person, agent, upstream, tool and arguments. */
function isFor(request: ApprovalRequest, call: ApprovalCall, argumentsHash: string): boolean {
  return (
    request.personId === call.person.id &&
    request.client.id === call.client.id &&
    request.upstreamId === call.upstream.id &&
    request.tool === call.tool &&
    request.argumentsHash === argumentsHash
  );
}

/** The tool error of a call that needs the person's approval first: where to give it, and what then. */
export function approvalNeededText(shownName: string, upstreamId: string, url: string): string {
  return `Tool "${shownName}" of upstream "${upstreamId}" needs your approval for this call. Open ${url} to allow or deny it, then call the tool again with the same arguments.`;
}

/** The tool error of a call that did not get its approval. */
export function approvalRefusedText(
  shownName: string,
  upstreamId: string,
  why: Exclude<ApprovalOutcome, 'approved'> | 'refuse' | 'declined',
  url?: string,
): string {
  const tool = `tool "${shownName}" of upstream "${upstreamId}"`;
  switch (why) {
    case 'denied':
      return `The person denied this call of ${tool}; it was not made.`;
    case 'expired':
      return `Nobody approved this call of ${tool} in time; it was not made. Call it again to ask anew.`;
    case 'taken':
      return `The approval of this call of ${tool} was used by an identical call; it was not made. Call it again to ask anew.`;
    case 'declined':
      return `This call of ${tool} needs the person's approval; it was not made. They may still approve it at ${url}, then call the tool again with the same arguments.`;
    case 'refuse':
      return `Every call of ${tool} needs a person's approval; a service client cannot get one.`;
    case 'cancelled':
      return `The call of ${tool} was cancelled while it waited for approval.`;
  }
}
