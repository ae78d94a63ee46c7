import { SpanKind } from '@opentelemetry/api';
import { once } from 'node:events';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  isSpecType,
  type ClientCapabilities,
  type DiscoverResult,
} from '@modelcontextprotocol/server';
import type { UpstreamEra } from '../../adapters/mcp-upstream.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatSseEvent, readBody, readSse, sendUpstream, type SseEvent, type UpstreamRequestInit } from '../../adapters/mcp-http-relay.js';
import {
  UpstreamCancelledError,
  UpstreamConnectRequiredError,
  UpstreamError,
  UpstreamProtocolError,
  UpstreamTimeoutError,
  UpstreamUnauthorizedError,
  UpstreamUnavailableError,
} from '../../adapters/upstream-errors.js';
import type { AuditInput } from '../audit/event.js';
import { auditRequest } from '../audit/request-audit.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { ToolPins } from '../governance/tool-pins.js';
import type { ToolApprovals } from '../governance/tool-approvals.js';
import type { ToolQuotas } from '../governance/tool-quotas.js';
import type { CredentialMinter } from '../credentials/credential-minter.js';
import { nestedDeeperThan } from '../http/body.js';
import { JSONRPC, JsonRpcHttpError } from '../http/errors.js';
import { writeJson } from '../http/write-json.js';
import type { AuthContext } from '../oauth/bearer.js';
import { auditSession, type AgentSession, type AgentSessions } from './agent-sessions.js';
import { upstreamErrorText } from './connect-elicitation.js';
import { RelayedRequests, type RpcMessage } from './relayed-requests.js';
import { STATELESS_VERSIONS } from './standard-headers.js';
import { traceContextOf } from './trace-context.js';
import { activeTraceHeaders, inSpan } from '../tracing/spans.js';
import { authOf, contextOf } from '../http/request-context.js';
import { PORTAL_VERSION } from '../version.js';

/** What the relay adds to a stream when the portal, not the upstream, changed the tools an agent may see. */
const TOOLS_LIST_CHANGED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
/** Bound on one upstream JSON body or SSE event. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The version the portal asks an upstream about when it probes its era. */
const STATELESS_VERSION = STATELESS_VERSIONS[0]!;
/** Bound on the nesting of one upstream message: the relay re-serializes answers, and JSON.stringify recurses. */
const MAX_MESSAGE_DEPTH = 256;
/** SSE comment sent to the agent when nothing else was for this long (at most 15 s). */
const KEEP_ALIVE_MS = 15_000;
const SSE_HEADERS = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' };
/** How long an SSE answer with nothing but answers so far is held, hoping to send it as one JSON body. */
const HOLD_MS = 250;

/** How a relayed stateless request ended: answered, or left unanswered for the reason named. */
export type StatelessOutcome = 'answered' | 'connect-first' | 'not-2026';

/** What the agent's `initialize` established, before the session exists. */
export type NewAgentSession = Omit<AgentSession, 'id' | 'createdAt' | 'relay'>;

export interface TransparentRelay {
  /**
   * Relays `initialize` and, when the upstream accepts it, creates the agent session bound to the
   * upstream's. Resolves `false`, having answered nothing, for the SDK path to serve the session
   * instead, when the upstream takes no session here (404/405 on the POST: a legacy HTTP+SSE
   * server; 400: one of MCP 2026-07-28 only) or the person must connect their account there first.
   */
  initialize(req: IncomingMessage, res: ServerResponse, body: unknown, upstream: UpstreamConfig, fields: NewAgentSession): Promise<boolean>;
  /** Relays the agent's messages (`body`: one JSON-RPC message or a batch). */
  post(req: IncomingMessage, res: ServerResponse, body: unknown, session: AgentSession, upstream: UpstreamConfig): Promise<void>;
  /**
   * Relays one MCP 2026-07-28 request of a stateless agent to an upstream of that era: no session
   * on either side; its answer (an `input_required` round and its `requestState` included) comes
   * back as the upstream gave it, through the same tool rules and audit. Resolves, having answered
   * nothing, `connect-first` when the person must connect their account at the upstream first,
   * and `not-2026` when the upstream refused the request as one of an era it does not speak.
   */
  stateless(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    upstream: UpstreamConfig,
    clientCapabilities: ClientCapabilities,
  ): Promise<StatelessOutcome>;
  /**
   * Asks the upstream, as the person, what it speaks (`server/discover`): `modern` when it answers
   * as an MCP 2026-07-28 server, `legacy` when it refuses the question as a server of the session
   * protocol does, `undefined` when it cannot be told now (the person must connect first, the
   * upstream is down).
   */
  probe(req: IncomingMessage, upstream: UpstreamConfig): Promise<UpstreamEra | undefined>;
  /** The upstream's server-to-client stream, resumable with `Last-Event-ID`. */
  get(req: IncomingMessage, res: ServerResponse, session: AgentSession, upstream: UpstreamConfig): Promise<void>;
  /** Ends the upstream session (HTTP DELETE there); the caller forgets the agent session. */
  terminate(req: IncomingMessage, session: AgentSession, upstream: UpstreamConfig): Promise<void>;
}

/**
 * The transparent endpoint `/mcp/{id}` over a Streamable HTTP upstream, as a message-level relay:
 * each agent HTTP request becomes one upstream HTTP request in the upstream session bound to the
 * agent session (so any portal process serves any request, and the upstream's event ids make its
 * streams resumable through the portal). The portal adds what it owes: the person's credential
 * for the upstream instead of the agent's token, the tool rules, the audit trail, keep-alives, the
 * call timeout, and answers of its own when the upstream cannot give them.
 */
export function createTransparentRelay(deps: {
  sessions: AgentSessions;
  credentials: CredentialMinter;
  pins: ToolPins;
  quotas: ToolQuotas;
  approvals: ToolApprovals;
  keepAliveMs?: number;
}): TransparentRelay {
  const { sessions } = deps;
  const keepAliveMs = deps.keepAliveMs ?? KEEP_ALIVE_MS;
  // An administrator's verdict on a tool changes what the agents of its upstream may see, though the
  // upstream announced nothing: each server-to-client stream of that upstream relayed here says so.
  const openStreams = new Map<string, Set<ServerResponse>>();
  deps.pins.onChange((upstreamId, cause) => {
    if (cause !== 'verdict') return;
    for (const res of openStreams.get(upstreamId) ?? []) {
      // Only while the upstream's event stream is relayed (a 200 not yet ended): any other answer to a GET ends at once.
      if (res.headersSent && res.statusCode === 200 && !res.writableEnded)
        res.write(formatSseEvent({ id: undefined, event: 'message', data: TOOLS_LIST_CHANGED }));
    }
  });

  /** Sends with the person's credential for the upstream; a refused one is renewed and retried once (oauth). */
  async function send(
    upstream: UpstreamConfig,
    auth: AuthContext,
    init: UpstreamRequestInit,
    minted?: Record<string, string>,
  ): Promise<IncomingMessage> {
    for (let retried = false; ; retried = true) {
      const credential = minted && !retried ? minted : await deps.credentials.headersFor(upstream, auth);
      const response = await inSpan(
        'upstream call',
        { 'gatehouse.upstream': upstream.id },
        () => sendUpstream(upstream.id, upstream.url!, { ...init, headers: { ...init.headers, ...credential, ...activeTraceHeaders() } }),
        SpanKind.CLIENT,
      );
      const status = response.statusCode;
      if (status !== 401 && status !== 403) return response;
      response.resume();
      const wwwAuthenticate = response.headers['www-authenticate'];
      const verdict = await deps.credentials.answerChallenge(upstream, auth, { status, wwwAuthenticate, sentHeaders: credential, retried });
      if (verdict !== 'retry' || retried)
        throw new UpstreamUnauthorizedError(upstream.id, status, {
          internal: `HTTP ${status}${wwwAuthenticate ? `: ${wwwAuthenticate}` : ''}`,
          wwwAuthenticate,
        });
    }
  }

  function flowOf(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    upstream: UpstreamConfig,
    session: Pick<AgentSession, 'clientCapabilities'> & Partial<Pick<AgentSession, 'relay'>>,
    timeoutMs?: number,
    modern = false,
  ): Flow {
    const audit = (input: AuditInput, message: string) => auditRequest(req, input, message);
    const auth = authOf(req);
    return {
      req,
      res,
      body,
      upstream,
      upstreamSessionId: session.relay?.upstreamSessionId,
      requests: new RelayedRequests({
        upstream,
        person: auth.person,
        client: { id: auth.clientId, name: auth.clientName },
        clientCapabilities: session.clientCapabilities,
        modern,
        audit,
        pins: deps.pins,
        quotas: deps.quotas,
        countedCalls: (contextOf(req).countedCalls ??= new Set()),
        approvals: deps.approvals,
        onError: (error) => contextOf(req).log.warn({ err: error, upstream: upstream.id }, 'tool pins not recorded'),
      }),
      deadline: new Deadline(res, upstream, timeoutMs),
      batch: Array.isArray(body),
    };
  }

  /** POSTs the agent's messages upstream and relays the answer; `onAccepted` may take the upstream's answer over before it is written. */
  async function exchange(flow: Flow, onAccepted: (response: IncomingMessage) => Promise<boolean>): Promise<void> {
    const { req, res, upstream, requests, deadline, batch } = flow;
    await deps.pins.load(upstream.id);
    const admitted = await requests.admit(([] as RpcMessage[]).concat(flow.body as RpcMessage));
    if ('refused' in admitted) {
      writeJson(res, 200, batch ? admitted.refused : admitted.refused[0]);
      return;
    }
    if (requests.pending === 0) deadline.answered();
    let response: IncomingMessage;
    try {
      const body = JSON.stringify(batch ? admitted.forward : admitted.forward[0]);
      response = await send(
        upstream,
        authOf(req),
        {
          method: 'POST',
          headers: upstreamHeaders(req, flow.upstreamSessionId, admitted.forward),
          body,
          signal: deadline.signal,
        },
        flow.credential,
      );
    } catch (error) {
      return answerFailure(flow, error);
    }
    if (await onAccepted(response)) await relayAnswer(flow, response);
  }

  /** Writes the upstream's answer: SSE event by event or one JSON body, each message passing `flow.requests`. */
  async function relayAnswer(flow: Flow, response: IncomingMessage): Promise<void> {
    const { res, upstream, requests, deadline } = flow;
    const status = response.statusCode ?? 502;
    const type = response.headers['content-type'] ?? '';
    const ok = status >= 200 && status < 300;
    if (ok && type.startsWith('text/event-stream')) return relayEvents(flow, response);
    if (status === 202 || status === 204) {
      response.resume();
      res.writeHead(status).end();
      return;
    }
    let body: string;
    try {
      body = await readBody(upstream.id, response, MAX_MESSAGE_BYTES, deadline.signal);
    } catch (error) {
      return answerFailure(flow, error);
    }
    if (!type.includes('json')) {
      const internal = `HTTP ${status} ${type}`;
      return answerFailure(
        flow,
        ok ? new UpstreamProtocolError(upstream.id, { internal }) : new UpstreamUnavailableError(upstream.id, { internal }),
      );
    }
    // An error of the upstream's own transport (a bad request, a method it does not allow) passes as it is.
    if (!ok) {
      if (response.headers.allow) res.setHeader('Allow', response.headers.allow);
      writeJson(res, status, body);
      return;
    }
    let answers: RpcMessage[];
    let single: boolean;
    try {
      const parsed = parseUpstreamJson(upstream, body);
      single = !Array.isArray(parsed);
      answers = ([] as unknown[]).concat(parsed).map((value) => asMessage(upstream, value));
    } catch (error) {
      return answerFailure(
        flow,
        error instanceof UpstreamError
          ? error
          : new UpstreamProtocolError(upstream.id, { internal: `JSON body: ${(error as Error).message}` }),
      );
    }
    const shown = answers.map((message) => requests.answer(message));
    const missing =
      requests.pending > 0
        ? requests.unanswered(new UpstreamProtocolError(upstream.id, { internal: 'the JSON answer left requests unanswered' }))
        : [];
    const all = [...shown, ...missing];
    const unchanged = missing.length === 0 && shown.every((message, i) => message === answers[i]);
    writeJson(res, status, unchanged ? body : JSON.stringify(single && all.length === 1 ? all[0] : all));
  }

  /**
   * Relays an SSE answer. While the upstream has sent nothing but answers without event ids, they
   * are held: when every request is answered by then, the agent gets one JSON body instead of a
   * stream (MCP lets the server choose; one write instead of a chunked stream is much of the
   * relay's cost). A notification, a server→client request, an event id (a resumable stream) or
   * a short wait starts the stream.
   */
  async function relayEvents(flow: Flow, response: IncomingMessage): Promise<void> {
    const { req, res, upstream, requests, deadline } = flow;
    const held: SseEvent[] = [];
    const answers: RpcMessage[] = [];
    let streaming = false;
    let answeredAsJson = false;
    let resumable = false;
    let keepAlive: NodeJS.Timeout | undefined;
    const startStream = () => {
      if (streaming || answeredAsJson) return;
      streaming = true;
      res.writeHead(200, SSE_HEADERS);
      if (held.length === 0) res.flushHeaders();
      for (const event of held.splice(0)) res.write(formatSseEvent(event));
      keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs).unref();
    };
    const holding = requests.pending > 0 && acceptsJson(req);
    const holdTimer = holding ? setTimeout(startStream, HOLD_MS) : undefined;
    if (!holding) startStream();
    let failure: unknown;
    try {
      await readSse(upstream.id, response, { maxEventBytes: MAX_MESSAGE_BYTES, signal: deadline.signal }, (event) => {
        // After the last answer went out as JSON, nothing on this stream is awaited by the agent.
        if (answeredAsJson) return;
        if (event.id) resumable = true;
        const { shown, message } = relayedEvent(upstream, event, requests);
        if (requests.pending === 0) deadline.answered();
        if (!streaming) {
          // An event id means the upstream keeps the stream resumable: the agent gets it as a stream.
          if (resumable || (message && message.method !== undefined)) {
            startStream();
          } else {
            held.push(shown);
            if (message) answers.push(message);
            if (requests.pending > 0) return;
            answeredAsJson = true;
            // The upstream ends this stream now; should it not, the wait is bounded.
            deadline.detach(upstream.connectTimeoutMs);
            writeJson(res, 200, answers.length === 1 && !flow.batch ? held.find((e) => e.data !== '')!.data : JSON.stringify(answers));
            return;
          }
        }
        if (!res.write(formatSseEvent(shown))) return once(res, 'drain').then(() => undefined);
      });
    } catch (error) {
      failure = error;
    } finally {
      clearTimeout(holdTimer);
      clearInterval(keepAlive);
    }
    if (answeredAsJson || failure instanceof UpstreamCancelledError || res.writableEnded) return;
    // A stream the upstream ended on purpose after an event id is resumed by the agent (Last-Event-ID,
    // SEP-1699); any other end leaves the unanswered requests to the portal.
    if (requests.pending > 0 && (failure !== undefined || !resumable)) {
      const error =
        failure instanceof UpstreamError
          ? failure
          : new UpstreamUnavailableError(upstream.id, { internal: 'the event stream ended before every answer', cause: failure });
      warn(flow, error);
      cancelUpstream(flow, error);
      const unanswered = requests.unanswered(error);
      if (!streaming) {
        const all = [...answers, ...unanswered];
        writeJson(res, 200, all.length === 1 && !flow.batch ? all[0] : all);
        return;
      }
      for (const answer of unanswered) res.write(formatSseEvent({ id: undefined, event: 'message', data: JSON.stringify(answer) }));
    }
    requests.handOff();
    startStream();
    res.end();
  }

  /**
   * The upstream could not answer before a stream was started: each pending request gets its
   * answer as JSON; with none pending (or during `initialize`) the agent gets a JSON-RPC error.
   */
  function answerFailure(flow: Flow, error: unknown): void {
    const { res, upstream, requests } = flow;
    if (error instanceof UpstreamCancelledError) return;
    if (!(error instanceof UpstreamError)) throw error;
    // Nothing was sent: the caller has the SDK path take the person through connecting instead.
    if ((flow.stateless || flow.initializing) && error instanceof UpstreamConnectRequiredError) throw error;
    warn(flow, error);
    if (flow.initializing || requests.pending === 0) {
      throw new JsonRpcHttpError(
        error instanceof UpstreamTimeoutError ? 504 : 502,
        JSONRPC.internalError,
        upstreamErrorText(upstream.id, error),
        { internal: `${error.message}: ${error.internal ?? ''}` },
      );
    }
    cancelUpstream(flow, error);
    const answers = requests.unanswered(error);
    writeJson(res, 200, flow.batch ? answers : answers[0]);
  }

  /** After a timeout, tells the upstream to stop working on what the agent was told failed (best effort). */
  function cancelUpstream(flow: Flow, error: UpstreamError): void {
    const { req, upstream, requests } = flow;
    if (!(error instanceof UpstreamTimeoutError) || !flow.upstreamSessionId) return;
    const body = JSON.stringify(requests.cancellations(`the portal's call timeout (${upstream.callTimeoutMs} ms) passed`));
    send(upstream, authOf(req), {
      method: 'POST',
      headers: upstreamHeaders(req, flow.upstreamSessionId),
      body,
      signal: AbortSignal.timeout(upstream.connectTimeoutMs),
    })
      .then((response) => response.resume())
      .catch(() => {});
  }

  /** The upstream no longer knows the session: neither does the portal, and the agent starts a new one (404). */
  async function sessionGone(session: AgentSession, response: IncomingMessage): Promise<never> {
    response.resume();
    await sessions.delete(session.id);
    throw new JsonRpcHttpError(404, JSONRPC.sessionNotFound, 'Session not found: the upstream ended it; initialize a new one');
  }

  async function withFlow(flow: Flow, run: (flow: Flow) => Promise<void>): Promise<void> {
    try {
      await run(flow);
    } finally {
      flow.deadline.clear();
    }
  }

  return {
    async initialize(req, res, body, upstream, fields) {
      let fallback = false;
      const flow = { ...flowOf(req, res, body, upstream, fields, upstream.connectTimeoutMs), initializing: true };
      await withFlow(flow, (flow) =>
        exchange(flow, async (response) => {
          const status = response.statusCode ?? 502;
          // Not the session protocol here (404/405; 400 from an MCP 2026-07-28-only upstream): the SDK path serves it.
          if (status === 404 || status === 405 || status === 400) {
            response.resume();
            fallback = true;
            return false;
          }
          if (status < 200 || status >= 300) return true;
          const session = await sessions.create({
            ...fields,
            relay: { upstreamSessionId: headerValue(response.headers['mcp-session-id']) },
          });
          flow.upstreamSessionId = session.relay?.upstreamSessionId;
          res.setHeader('Mcp-Session-Id', session.id);
          auditSession(req, upstream.id, session.id, 'started');
          return true;
        }),
      ).catch((error: unknown) => {
        if (!(error instanceof UpstreamConnectRequiredError)) throw error;
        fallback = true;
      });
      return !fallback;
    },

    async post(req, res, body, session, upstream) {
      await withFlow(flowOf(req, res, body, upstream, session, upstream.callTimeoutMs), (flow) =>
        exchange(flow, async (response) => {
          if (response.statusCode === 404 && flow.upstreamSessionId) await sessionGone(session, response);
          return true;
        }),
      );
    },

    async stateless(req, res, body, upstream, clientCapabilities) {
      let outcome: StatelessOutcome = 'answered';
      try {
        // Minted before the tool rules run: a person who must connect first is handed to the SDK
        // path before any quota counted the call, so the call is counted once, there. Any other
        // failure is met again when the flow sends, and answered as the flow answers failures.
        const credential = await deps.credentials.headersFor(upstream, authOf(req)).catch((error: unknown) => {
          if (error instanceof UpstreamConnectRequiredError) throw error;
          return undefined;
        });
        await withFlow(
          { ...flowOf(req, res, body, upstream, { clientCapabilities }, upstream.callTimeoutMs, true), stateless: true, credential },
          (flow) =>
            exchange(flow, async (response) => {
              const status = response.statusCode ?? 502;
              if (status !== 400 && status !== 404 && status !== 405) return true;
              const text = await readBody(upstream.id, response, MAX_MESSAGE_BYTES, flow.deadline.signal).catch(() => '');
              if (!refusesEra(status, text)) {
                writeJson(res, status, text);
                return false;
              }
              outcome = 'not-2026';
              return false;
            }),
        );
        return outcome;
      } catch (error) {
        if (error instanceof UpstreamConnectRequiredError) return 'connect-first';
        throw error;
      }
    },

    async probe(req, upstream) {
      const version = STATELESS_VERSION;
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'server/discover',
        params: {
          _meta: {
            [PROTOCOL_VERSION_META_KEY]: version,
            [CLIENT_INFO_META_KEY]: { name: 'gatehouse', version: PORTAL_VERSION },
            [CLIENT_CAPABILITIES_META_KEY]: {},
          },
        },
      });
      const headers = {
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
        'mcp-protocol-version': version,
        'mcp-method': 'server/discover',
        ...traceContextOf(req),
      };
      const signal = AbortSignal.timeout(upstream.connectTimeoutMs);
      let answer: RpcMessage | undefined;
      try {
        const response = await send(upstream, authOf(req), { method: 'POST', headers, body, signal });
        const status = response.statusCode ?? 502;
        if (status >= 500) {
          response.resume();
          return undefined;
        }
        if (status >= 300) {
          response.resume();
          return { kind: 'legacy' };
        }
        if ((response.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          await readSse(upstream.id, response, { maxEventBytes: MAX_MESSAGE_BYTES, signal }, (event) => {
            const message = event.data ? (parseUpstreamJson(upstream, event.data) as RpcMessage) : undefined;
            if (message && message.id === 0 && !answer) {
              answer = message;
              response.destroy();
            }
          }).catch(() => {});
        } else {
          answer = parseUpstreamJson(upstream, await readBody(upstream.id, response, MAX_MESSAGE_BYTES, signal)) as RpcMessage;
        }
      } catch {
        return undefined;
      }
      if (answer?.error !== undefined) return { kind: 'legacy' };
      const discover = answer?.result;
      const speaks = isSpecType.DiscoverResult(discover) && (discover as DiscoverResult).supportedVersions.includes(version);
      return speaks ? { kind: 'modern', discover: discover as DiscoverResult } : undefined;
    },

    async get(req, res, session, upstream) {
      const streams = openStreams.get(upstream.id) ?? new Set<ServerResponse>();
      openStreams.set(upstream.id, streams.add(res));
      res.once('close', () => {
        streams.delete(res);
        if (streams.size === 0 && openStreams.get(upstream.id) === streams) openStreams.delete(upstream.id);
      });
      await withFlow(flowOf(req, res, undefined, upstream, session), async (flow) => {
        let response: IncomingMessage;
        try {
          response = await send(upstream, authOf(req), {
            method: 'GET',
            headers: upstreamHeaders(req, flow.upstreamSessionId),
            signal: flow.deadline.signal,
          });
        } catch (error) {
          return answerFailure(flow, error);
        }
        if (response.statusCode === 404 && flow.upstreamSessionId) await sessionGone(session, response);
        await relayAnswer(flow, response);
      });
    },

    async terminate(req, session, upstream) {
      const upstreamSessionId = session.relay?.upstreamSessionId;
      if (!upstreamSessionId) return;
      try {
        const response = await send(upstream, authOf(req), {
          method: 'DELETE',
          headers: upstreamHeaders(req, upstreamSessionId),
          signal: AbortSignal.timeout(upstream.connectTimeoutMs),
        });
        response.resume();
      } catch (error) {
        // The agent session ends here regardless; the upstream's own expiry ends its side.
        contextOf(req).log.warn({ upstream: upstream.id, errorCode: (error as { code?: string }).code }, 'upstream session not ended');
      }
    },
  };
}

/** One agent HTTP request on its way through the relay. */
interface Flow {
  req: IncomingMessage;
  res: ServerResponse;
  /** The agent's message or batch (a POST's). */
  body: unknown;
  upstream: UpstreamConfig;
  /** The upstream's session (absent for a stateless upstream, and until `initialize` is answered). */
  upstreamSessionId?: string;
  requests: RelayedRequests;
  deadline: Deadline;
  /** The agent sent a JSON array (2025-03-26 batching): answers go back as one. */
  batch: boolean;
  /** `initialize`: a failure is an HTTP error (there is no session to answer in). */
  initializing?: boolean;
  /** A stateless (2026) agent's request: a missing connection is not answered here. */
  stateless?: boolean;
  /** The person's credential for the upstream, minted before the tool rules counted anything. */
  credential?: Record<string, string>;
}

/**
 * Aborts the upstream exchange when the agent goes away (not a cancellation: MCP says so, the
 * upstream is not told) or when the answers take longer than `timeoutMs`.
 */
class Deadline {
  readonly #controller = new AbortController();
  #timer?: NodeJS.Timeout;
  readonly #onClose = () =>
    this.#controller.abort(new UpstreamCancelledError(this.upstream.id, { internal: 'the agent closed the connection' }));

  constructor(
    private readonly res: ServerResponse,
    private readonly upstream: UpstreamConfig,
    timeoutMs?: number,
  ) {
    if (timeoutMs !== undefined)
      this.#timer = setTimeout(() => this.#controller.abort(new UpstreamTimeoutError(upstream.id, timeoutMs)), timeoutMs);
    res.once('close', this.#onClose);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Every request was answered: the rest of the stream may take its time. */
  answered(): void {
    clearTimeout(this.#timer);
  }

  /** The agent has its answer: its leaving no longer matters, and the upstream gets `timeoutMs` to end. */
  detach(timeoutMs: number): void {
    this.clear();
    this.#timer = setTimeout(() => this.#controller.abort(new UpstreamTimeoutError(this.upstream.id, timeoutMs)), timeoutMs).unref();
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.res.off('close', this.#onClose);
  }
}

/** JSON-RPC errors with which an upstream refuses a request of an era it does not speak. */
const ERA_REFUSALS = new Set([
  // MCP 2026-07-28 UnsupportedProtocolVersion.
  -32022,
  // The session protocol's own refusal: no session, not initialized, unsupported MCP-Protocol-Version.
  -32000,
]);

/**
 * Whether an upstream's 400/404/405 answer to a 2026-07-28 request says it does not speak that
 * era (no Streamable HTTP POST here, no session, an unsupported version), rather than that the
 * request itself was wrong (a header mismatch, bad params), which the agent is told as it is.
 */
function refusesEra(status: number, text: string): boolean {
  if (status !== 400) return true;
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown } };
    return typeof error?.code !== 'number' || ERA_REFUSALS.has(error.code);
  } catch {
    return true;
  }
}

/** Upstream request headers: what the agent said about the exchange, never its credentials. */
function upstreamHeaders(
  req: IncomingMessage,
  upstreamSessionId: string | undefined,
  forwarded: RpcMessage[] = [],
): Record<string, string> {
  const headers: Record<string, string> = { accept: req.headers.accept ?? 'application/json, text/event-stream' };
  if (req.method === 'POST') headers['content-type'] = 'application/json';
  const version = headerValue(req.headers['mcp-protocol-version']);
  if (version) headers['mcp-protocol-version'] = version;
  const lastEventId = headerValue(req.headers['last-event-id']);
  if (lastEventId) headers['last-event-id'] = lastEventId;
  Object.assign(headers, traceContextOf(req));
  // MCP 2026-07-28 standard headers name what is sent upstream (a renamed tool by its own name);
  // `Mcp-Param-*` headers carry arguments, which the tool rules never change.
  if (req.headers['mcp-method'] !== undefined && forwarded.length === 1) {
    const [message] = forwarded;
    if (message!.method) headers['mcp-method'] = standardHeaderValue(message!.method);
    const name = message!.params?.name ?? message!.params?.uri;
    if (typeof name === 'string' && req.headers['mcp-name'] !== undefined) headers['mcp-name'] = standardHeaderValue(name);
    for (const [header, value] of Object.entries(req.headers)) {
      if (header.startsWith('mcp-param-') && typeof value === 'string') headers[header] = value;
    }
  }
  if (upstreamSessionId) headers['mcp-session-id'] = upstreamSessionId;
  return headers;
}

/**
 * A value for an MCP standard header (MCP 2026-07-28 "Standard Headers", value encoding): plain
 * when it is a safe ASCII field value (RFC 9110 §5.5), else `=?base64?{UTF-8 in Base64}?=`. A name
 * with a line break or a non-ASCII character cannot go as it is, and must not fail the request.
 */
function standardHeaderValue(value: string): string {
  const plain =
    value !== '' && value === value.trim() && /^[\t\x20-\x7e]*$/.test(value) && !(value.startsWith('=?base64?') && value.endsWith('?='));
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** An SSE event on its way to the agent, its message passed through `requests`; garbage ends the exchange. */
function relayedEvent(upstream: UpstreamConfig, event: SseEvent, requests: RelayedRequests): { shown: SseEvent; message?: RpcMessage } {
  // A priming event (an id and no data) only marks where to resume.
  if (event.data === '') return { shown: event };
  let message: RpcMessage;
  try {
    message = asMessage(upstream, parseUpstreamJson(upstream, event.data));
  } catch (error) {
    throw error instanceof UpstreamError
      ? error
      : new UpstreamProtocolError(upstream.id, { internal: `SSE data is not JSON: ${(error as Error).message}` });
  }
  const shown = requests.answer(message);
  return { shown: shown === message ? event : { ...event, data: JSON.stringify(shown) }, message: shown };
}

/** Whether the agent takes a JSON answer to its POST (MCP clients must accept both). */
function acceptsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') || accept.includes('*/*');
}

/** An upstream's JSON text, parsed; nested past {@link MAX_MESSAGE_DEPTH} it is a protocol error like any other garbage. */
function parseUpstreamJson(upstream: UpstreamConfig, text: string): unknown {
  if (nestedDeeperThan(Buffer.from(text), MAX_MESSAGE_DEPTH))
    throw new UpstreamProtocolError(upstream.id, { internal: `a message nested deeper than ${MAX_MESSAGE_DEPTH} levels` });
  return JSON.parse(text);
}

function asMessage(upstream: UpstreamConfig, value: unknown): RpcMessage {
  if (!value || typeof value !== 'object' || Array.isArray(value) || (value as { jsonrpc?: unknown }).jsonrpc !== '2.0') {
    throw new UpstreamProtocolError(upstream.id, { internal: 'an upstream message is not JSON-RPC 2.0' });
  }
  return value as RpcMessage;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function warn({ req, upstream }: Flow, error: UpstreamError): void {
  contextOf(req).log.warn(
    { upstream: upstream.id, errorCode: error.code, internal: error.internal },
    error instanceof UpstreamConnectRequiredError ? 'upstream needs the person to connect' : 'upstream exchange failed',
  );
}
