import { randomUUID } from 'node:crypto';
import {
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
  type JSONRPCMessage,
  type Notification,
  type Request,
  type RequestId,
  type Result,
  type Transport,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';

/** An agent request being served by this process, to which upstream traffic can be routed. */
export interface InFlightRequest {
  sessionId: string;
  /** The upstream the request went to, once known. */
  upstreamId?: string;
  progressToken?: string | number;
  /** The agent's JSON-RPC id of the request: relayed messages are sent "related" to it. */
  requestId: RequestId;
  /** The agent's stream, for server→client requests; absent for a stateless agent. */
  transport?: Transport;
  /**
   * A stateless agent's request answers an upstream's server→client request through this instead
   * (input-rounds.ts); `key` is the upstream's own name for it (a 2026 upstream's `inputRequests` key).
   */
  ask?: (request: Request, key?: string) => Promise<Result>;
  sendNotification(notification: Notification): Promise<void>;
}

interface PendingRelay {
  resolve(result: Result): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** How long a session's inbound subscription outlives its last in-flight request. */
const SUBSCRIPTION_LINGER_MS = 30_000;

/** How long a relayed server→client request (a person answering an elicitation) may take. */
const RELAY_TIMEOUT_MS = 10 * 60_000;

/**
 * Routes MCP traffic between the portal processes that serve one agent session, over the
 * Store's pub/sub:
 * - **inbound**: the agent's responses (to relayed sampling/elicitation requests) and its
 *   `notifications/cancelled` may arrive at any process; they are delivered to the process
 *   serving the request they concern.
 * - **outbound**: upstream notifications outside a request (list_changed, resources/updated,
 *   logging) reach whichever process holds the agent's GET stream.
 */
export class SessionHub {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #inFlight = new Map<string, Set<InFlightRequest>>();
  readonly #inboundSubscriptions = new Map<string, Promise<() => Promise<void>>>();
  readonly #pendingRelays = new Map<string, PendingRelay>();
  readonly #lingerTimers = new Map<string, NodeJS.Timeout>();

  constructor(store: Store, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** Tracks a request while it is served; the returned function stops tracking it. */
  async track(request: InFlightRequest): Promise<() => Promise<void>> {
    const untrack = this.trackLocal(request);
    if (!this.#inboundSubscriptions.has(request.sessionId)) {
      this.#inboundSubscriptions.set(
        request.sessionId,
        this.#store.subscribe(inboundChannel(request.sessionId), (raw) => this.#deliver(request.sessionId, raw)),
      );
    }
    await this.#inboundSubscriptions.get(request.sessionId);
    return async () => {
      if (!untrack()) return;
      // An agent's requests come in bursts: keep listening a while rather than re-subscribe each time.
      const timer = this.#lingerTimers.get(request.sessionId);
      if (timer) timer.refresh();
      else
        this.#lingerTimers.set(
          request.sessionId,
          setTimeout(() => void this.#unsubscribe(request.sessionId), SUBSCRIPTION_LINGER_MS).unref(),
        );
    };
  }

  /**
   * Tracks a request in this process only, so that its upstream progress reaches it: a stateless
   * (2026-era) agent posts nothing else for it. The returned function stops tracking it and says
   * whether it was the session's last request here.
   */
  trackLocal(request: InFlightRequest): () => boolean {
    let set = this.#inFlight.get(request.sessionId);
    if (!set) this.#inFlight.set(request.sessionId, (set = new Set()));
    set.add(request);
    return () => {
      set.delete(request);
      if (set.size > 0) return false;
      if (this.#inFlight.get(request.sessionId) === set) this.#inFlight.delete(request.sessionId);
      return true;
    };
  }

  async #unsubscribe(sessionId: string): Promise<void> {
    this.#lingerTimers.delete(sessionId);
    if (this.#inFlight.has(sessionId)) return;
    const unsubscribe = this.#inboundSubscriptions.get(sessionId);
    this.#inboundSubscriptions.delete(sessionId);
    await (await unsubscribe)?.().catch(() => {});
  }

  /** Stops every subscription (shutdown). */
  async close(): Promise<void> {
    for (const timer of this.#lingerTimers.values()) clearTimeout(timer);
    this.#lingerTimers.clear();
    await Promise.allSettled([...this.#inboundSubscriptions.keys()].map((id) => this.#unsubscribe(id)));
  }

  /** Hands the agent's responses and notifications to whichever process serves their request. */
  async publishInbound(sessionId: string, messages: JSONRPCMessage[]): Promise<void> {
    await this.#store.publish(inboundChannel(sessionId), JSON.stringify(messages));
  }

  async publishOutbound(sessionId: string, notification: Notification): Promise<void> {
    await this.#store.publish(outboundChannel(sessionId), JSON.stringify(notification));
  }

  subscribeOutbound(sessionId: string, onNotification: (notification: Notification) => void): Promise<() => Promise<void>> {
    return this.#store.subscribe(outboundChannel(sessionId), (raw) => onNotification(JSON.parse(raw) as Notification));
  }

  /**
   * Sends a server→client request (sampling, elicitation, roots) to the agent on the stream
   * of `to`, and resolves the agent's answer, whichever process it is posted to. Its id is
   * unique across processes, so answers never cross.
   */
  relayRequest(to: InFlightRequest, request: Request, key?: string): Promise<Result> {
    if (to.ask) return to.ask(request, key);
    const { transport } = to;
    if (!transport)
      return Promise.reject(new ProtocolError(ProtocolErrorCode.MethodNotFound, `the agent takes no ${request.method} requests`));
    const id = `gatehouse-${randomUUID()}`;
    return new Promise<Result>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pendingRelays.delete(id);
        reject(new SdkError(SdkErrorCode.RequestTimeout, `the agent did not answer ${request.method}`));
      }, RELAY_TIMEOUT_MS);
      this.#pendingRelays.set(id, { resolve, reject, timer });
      transport
        .send({ jsonrpc: '2.0', id, method: request.method, params: request.params }, { relatedRequestId: to.requestId })
        .catch((error: Error) => {
          clearTimeout(timer);
          this.#pendingRelays.delete(id);
          reject(error);
        });
    });
  }

  /** The newest in-flight request of a session to an upstream (where its server→client requests belong). */
  requestTo(sessionId: string, upstreamId: string): InFlightRequest | undefined {
    // A stateless agent's retry is in flight too, but cannot be asked: the call it continues can.
    return [...(this.#inFlight.get(sessionId) ?? [])].reverse().find((r) => r.upstreamId === upstreamId && (r.ask || r.transport));
  }

  withProgressToken(sessionId: string, token: string | number): InFlightRequest | undefined {
    return [...(this.#inFlight.get(sessionId) ?? [])].find((r) => r.progressToken === token);
  }

  #deliver(sessionId: string, raw: string): void {
    let messages: JSONRPCMessage[];
    try {
      messages = JSON.parse(raw) as JSONRPCMessage[];
    } catch {
      return;
    }
    for (const message of messages) {
      if ('id' in message && ('result' in message || 'error' in message)) {
        this.#settleRelay(message);
        continue;
      }
      // A request's own protocol instance ignores a cancellation of another request.
      for (const request of this.#inFlight.get(sessionId) ?? []) {
        try {
          request.transport?.onmessage?.(message);
        } catch (error) {
          this.#logger.debug({ err: error, sessionId }, 'inbound MCP message not delivered');
        }
      }
    }
  }

  #settleRelay(message: JSONRPCMessage): void {
    const { id } = message as { id: RequestId };
    const pending = this.#pendingRelays.get(String(id));
    if (!pending) return;
    this.#pendingRelays.delete(String(id));
    clearTimeout(pending.timer);
    if ('error' in message) pending.reject(new ProtocolError(message.error.code, message.error.message, message.error.data));
    else if ('result' in message) pending.resolve(message.result as Result);
  }
}

const inboundChannel = (sessionId: string) => `mcp:{${sessionId}}:in`;
const outboundChannel = (sessionId: string) => `mcp:{${sessionId}}:out`;
