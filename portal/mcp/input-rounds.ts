import { randomUUID } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
  type ClientCapabilities,
  type InputRequiredResult,
  type Request,
  type Result,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { canonicalJson } from '../audit/chain.js';
import { sha256 } from '../crypto/hash.js';
import type { Sealer } from '../crypto/seal.js';
import { storeKey, type Store } from '../store/store.js';
import type { InFlightRequest, SessionHub } from './session-hub.js';

/** How long an agent has to answer a round, and how long the upstream call waits for it. */
const ROUND_TTL_MS = 10 * 60_000;
/** How long a retry waits for the process holding its call to say it has the answers. */
const RECEIPT_TIMEOUT_MS = 5_000;
/** Requests an upstream sends at nearly the same moment are asked of the agent in one round. */
const GATHER_MS = 10;

/** What a bridged request is: checked again on every retry, so a `requestState` serves no other request. */
export interface RoundSubject {
  method: string;
  /** The params that make the request what it is (tool name and arguments, prompt, URI). */
  salient: unknown;
}

/** Who the rounds belong to: a `requestState` is sealed to them. */
export interface RoundScope {
  personId: string;
  grantId: string;
  endpoint: string;
  sessionId: string;
  inFlight: InFlightRequest;
  logger: Logger;
}

/**
 * MCP 2026-07-28 multi round-trip requests (MRTR) for a stateless agent whose call reaches an
 * upstream that asks something back mid-call (a 2025 upstream's `elicitation/create`,
 * `sampling/createMessage` or `roots/list`, or a 2026 upstream's `input_required`). The call is
 * answered `input_required` with the upstream's requests; the upstream call goes on in this
 * process, waiting; the agent's retry, at any process, hands the answers over the Store's pub/sub
 * and gets the call's next outcome. `requestState` is sealed (AES-GCM) to the person, grant and
 * endpoint, names the request it belongs to, expires, and is good for one retry only.
 */
export interface InputRounds {
  run<R extends Result>(
    scope: RoundScope,
    extra: ServerContext,
    subject: RoundSubject,
    call: (signal: AbortSignal) => Promise<R>,
  ): Promise<R | InputRequiredResult>;
  close(): void;
}

/** What `requestState` carries, sealed. */
interface RoundState {
  call: string;
  round: number;
  keys: string[];
  subject: string;
  expiresAt: number;
}

/** An outcome that crosses processes: the result, a JSON-RPC error, or the next round's requests. */
type Outcome =
  | { result: Result }
  | { error: { code: number; message: string; data?: unknown } }
  | { inputRequests: Record<string, Request> };

interface Asked {
  request: Request;
  resolve(result: Result): void;
  reject(error: Error): void;
}

export function createInputRounds(options: { store: Store; hub: SessionHub; sealer: Sealer; now?: () => number }): InputRounds {
  const { store, hub, sealer } = options;
  const now = options.now ?? Date.now;
  const live = new Set<PendingCall>();
  const roundKey = (call: string) => storeKey('mcp-round', call);
  const channel = (call: string, way: 'in' | 'out') => `mcp-round:{${call}}:${way}`;
  const boundTo = (scope: RoundScope) => `${scope.personId}\n${scope.grantId}\n${scope.endpoint}`;

  function inputRequired(
    scope: RoundScope,
    call: string,
    round: number,
    subject: string,
    inputRequests: Record<string, Request>,
  ): InputRequiredResult {
    const state: RoundState = { call, round, keys: Object.keys(inputRequests), subject, expiresAt: now() + ROUND_TTL_MS };
    return {
      resultType: 'input_required',
      inputRequests,
      requestState: sealer.seal(JSON.stringify(state), boundTo(scope)),
    } as InputRequiredResult;
  }

  function refused(): ProtocolError {
    return new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid or expired requestState');
  }

  /** An upstream call that asked the agent something: held in this process until it ends. */
  class PendingCall {
    readonly id = randomUUID();
    readonly controller = new AbortController();
    readonly #asked = new Map<string, Asked>();
    #count = 0;
    #gather?: NodeJS.Timeout;
    #waiter?: (outcome: Outcome) => void;
    #settled?: Outcome;
    #expiry?: NodeJS.Timeout;
    #untrack?: () => boolean;
    #unsubscribe?: Promise<() => Promise<void>>;

    constructor(readonly capabilities: ClientCapabilities) {}

    /** The upstream call this is: its end is the last outcome. */
    follow(upstream: Promise<Result>): void {
      upstream.then(
        (result) => this.#settle({ result }),
        (error: unknown) => this.#settle({ error: rpcError(error) }),
      );
    }

    /** A request from the upstream: asked of the agent in the next round, answered when the agent retries. */
    ask(request: Request, upstreamKey?: string): Promise<Result> {
      const missing = missingCapability(request.method, request.params, this.capabilities);
      if (missing)
        return Promise.reject(new ProtocolError(ProtocolErrorCode.MissingRequiredClientCapability, `the agent did not declare ${missing}`));
      // The upstream's own key where it gave one (a 2026 upstream's), else one of ours.
      const key = upstreamKey && !this.#asked.has(upstreamKey) ? upstreamKey : `${request.method.split('/')[0]}-${++this.#count}`;
      return new Promise<Result>((resolve, reject) => {
        this.#asked.set(key, { request: { method: request.method, params: agentParams(request) }, resolve, reject });
        this.#gather ??= setTimeout(() => {
          this.#gather = undefined;
          this.#emit({ inputRequests: this.#outstanding() });
        }, GATHER_MS);
      });
    }

    /** The call's next outcome: its result, or requests for the agent. */
    next(): Promise<Outcome> {
      if (this.#settled) return Promise.resolve(this.#settled);
      const outstanding = this.#outstanding();
      if (Object.keys(outstanding).length) return Promise.resolve({ inputRequests: outstanding });
      return new Promise((resolve) => (this.#waiter = resolve));
    }

    /** The agent's answers; what it left unanswered is asked again. */
    answer(responses: Record<string, unknown>): void {
      for (const [key, asked] of this.#asked) {
        const response = responses[key];
        if (typeof response !== 'object' || response === null) continue;
        this.#asked.delete(key);
        asked.resolve(response as Result);
      }
    }

    /** From now on the call outlives the agent's request: it is found by the upstream's further requests, and by the retry. */
    async handOff(scope: RoundScope, round: number): Promise<void> {
      this.#untrack ??= hub.trackLocal({
        sessionId: scope.sessionId,
        upstreamId: scope.inFlight.upstreamId,
        requestId: `round-${this.id}`,
        sendNotification: async () => {},
        ask: (request, key) => this.ask(request, key),
      });
      clearTimeout(this.#expiry);
      this.#expiry = setTimeout(
        () => this.end(new SdkError(SdkErrorCode.RequestTimeout, 'the agent did not answer in time')),
        ROUND_TTL_MS,
      ).unref();
      // Both in place before the agent can retry: the answers' channel and the round a retry must name.
      this.#unsubscribe ??= store.subscribe(channel(this.id, 'in'), (raw) => void this.#onAnswers(raw, scope));
      await this.#unsubscribe;
      await store.set(roundKey(this.id), String(round), { ttlMs: ROUND_TTL_MS });
    }

    async #onAnswers(raw: string, scope: RoundScope): Promise<void> {
      let message: { round: number; responses: Record<string, unknown> };
      try {
        message = JSON.parse(raw) as typeof message;
      } catch {
        return;
      }
      // The retry waits for word that the answers arrived somewhere, then for the outcome.
      await store.publish(channel(this.id, 'out'), JSON.stringify({ received: true })).catch(() => {});
      this.answer(message.responses ?? {});
      const outcome = await this.next();
      if ('inputRequests' in outcome) await this.handOff(scope, message.round + 1);
      await store
        .publish(channel(this.id, 'out'), JSON.stringify(outcome))
        .catch((error: unknown) => scope.logger.warn({ err: error }, 'MCP round outcome not published'));
      if (!('inputRequests' in outcome)) this.end();
    }

    /** Ends the call: the upstream request is cancelled if it still runs, and this process forgets it. */
    end(reason?: Error): void {
      live.delete(this);
      clearTimeout(this.#expiry);
      clearTimeout(this.#gather);
      this.#untrack?.();
      void this.#unsubscribe?.then((stop) => stop()).catch(() => {});
      for (const asked of this.#asked.values()) asked.reject(reason ?? new Error('the call ended'));
      this.#asked.clear();
      if (!this.#settled) this.controller.abort(reason);
    }

    #outstanding(): Record<string, Request> {
      return Object.fromEntries([...this.#asked].map(([key, asked]) => [key, asked.request]));
    }

    #settle(outcome: Outcome): void {
      this.#settled = outcome;
      this.#emit(outcome);
    }

    #emit(outcome: Outcome): void {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter?.(outcome);
    }
  }

  function finish<R extends Result>(
    outcome: Outcome,
    scope: RoundScope,
    call: string,
    round: number,
    subject: string,
  ): R | InputRequiredResult {
    if ('result' in outcome) return outcome.result as R;
    if ('error' in outcome) throw ProtocolError.fromError(outcome.error.code, outcome.error.message, outcome.error.data);
    return inputRequired(scope, call, round, subject, outcome.inputRequests);
  }

  async function resume<R extends Result>(
    scope: RoundScope,
    extra: ServerContext,
    subject: string,
    sealed: string,
  ): Promise<R | InputRequiredResult> {
    let state: RoundState;
    try {
      state = JSON.parse(sealer.open(sealed, boundTo(scope))) as RoundState;
    } catch {
      // Tampered with, sealed for another person, grant or endpoint, or not ours at all.
      throw refused();
    }
    if (state.expiresAt <= now() || state.subject !== subject) throw refused();
    // One retry per round: a replayed state finds the round already moved on.
    if (!(await store.compareAndSet(roundKey(state.call), String(state.round), String(state.round + 1), { ttlMs: ROUND_TTL_MS })))
      throw refused();
    // Only answers to what was asked travel on; anything else the agent sent is ignored.
    const sent = extra.mcpReq.inputResponses ?? {};
    const responses = Object.fromEntries(state.keys.filter((key) => key in sent).map((key) => [key, sent[key]]));
    const outcome = await new Promise<Outcome>((resolve, reject) => {
      let stop: (() => Promise<void>) | undefined;
      const fail = (message: string) => {
        void stop?.();
        reject(new ProtocolError(ProtocolErrorCode.InternalError, message));
      };
      // No process holds the call any more (it stopped): say so soon rather than hold the retry.
      const unheard = setTimeout(
        () => fail('the call this answers is no longer held by any portal process; call again'),
        RECEIPT_TIMEOUT_MS,
      ).unref();
      const timer = setTimeout(() => fail('the upstream did not go on in time'), ROUND_TTL_MS).unref();
      store
        .subscribe(channel(state.call, 'out'), (raw) => {
          const message = JSON.parse(raw) as Outcome | { received: true };
          clearTimeout(unheard);
          if ('received' in message) return;
          clearTimeout(timer);
          void stop?.();
          resolve(message);
        })
        .then(async (unsubscribe) => {
          stop = unsubscribe;
          await store.publish(channel(state.call, 'in'), JSON.stringify({ round: state.round, responses }));
        })
        .catch(reject);
    });
    return finish<R>(outcome, scope, state.call, state.round + 1, subject);
  }

  async function run<R extends Result>(
    scope: RoundScope,
    extra: ServerContext,
    subject: RoundSubject,
    call: (signal: AbortSignal) => Promise<R>,
  ): Promise<R | InputRequiredResult> {
    const digest = sha256(canonicalJson([subject.method, subject.salient]));
    const sealed = extra.mcpReq.requestState();
    if (typeof sealed === 'string') return resume<R>(scope, extra, digest, sealed);
    const capabilities = ((extra.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] ??
      {}) as ClientCapabilities;
    const pending = new PendingCall(capabilities);
    // Until the call is handed off, the agent's cancellation is the call's.
    const cancel = () => pending.end(new SdkError(SdkErrorCode.RequestTimeout, 'the agent cancelled the request'));
    extra.mcpReq.signal.addEventListener('abort', cancel, { once: true });
    scope.inFlight.ask = (request, key) => pending.ask(request, key);
    pending.follow(call(pending.controller.signal));
    const outcome = await pending.next();
    extra.mcpReq.signal.removeEventListener('abort', cancel);
    if (!('inputRequests' in outcome)) return finish<R>(outcome, scope, pending.id, 1, digest);
    live.add(pending);
    await pending.handOff(scope, 1);
    scope.logger.info(
      { event: 'mcp_input_required', requests: Object.keys(outcome.inputRequests) },
      'upstream asked the agent; answered input_required',
    );
    return inputRequired(scope, pending.id, 1, digest, outcome.inputRequests);
  }

  return {
    run,
    close() {
      for (const pending of live) pending.end(new Error('the portal is shutting down'));
    },
  };
}

/** The capability an upstream's request needs of the agent, if it lacks it. */
function missingCapability(method: string, params: Request['params'], capabilities: ClientCapabilities): string | undefined {
  if (method === 'elicitation/create') {
    const elicitation = capabilities.elicitation as { url?: object; form?: object } | undefined;
    if (!elicitation) return 'elicitation';
    return (params as { mode?: string } | undefined)?.mode === 'url' && !elicitation.url ? 'URL-mode elicitation' : undefined;
  }
  if (method === 'sampling/createMessage') return capabilities.sampling ? undefined : 'sampling';
  if (method === 'roots/list') return capabilities.roots ? undefined : 'roots';
  return method;
}

/** An upstream's request as a 2026 agent takes it: no `elicitationId` (MRTR correlates by key), no progress token of the upstream's. */
function agentParams(request: Request): Request['params'] {
  const { elicitationId: _elicitationId, _meta: _upstreamMeta, ...params } = (request.params ?? {}) as Record<string, unknown>;
  return params;
}

function rpcError(error: unknown): { code: number; message: string; data?: unknown } {
  if (error instanceof ProtocolError) return { code: error.code, message: error.message, data: error.data };
  return { code: ProtocolErrorCode.InternalError, message: 'the upstream call failed' };
}
