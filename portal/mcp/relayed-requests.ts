import { randomUUID } from 'node:crypto';
import { ProtocolErrorCode, type ClientCapabilities, type Tool } from '@modelcontextprotocol/server';
import { UpstreamConnectRequiredError, UpstreamProtocolError, type UpstreamError } from '../../adapters/upstream-errors.js';
import type { AuditInput } from '../audit/event.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { Person } from '../login/person.js';
import { upstreamErrorText } from './connect-elicitation.js';
import { heldToolText, type ToolPins } from '../governance/tool-pins.js';
import { approvalNeededText, approvalRefusedText, type ToolApprovals } from '../governance/tool-approvals.js';
import { quotaRefusedEvent, type ToolQuotas } from '../governance/tool-quotas.js';
import { needsApproval } from '../policy/tools.js';
import { MAX_NAME_LENGTH } from './naming.js';
import { originalToolName, toolAllowed, visibleTools } from './tool-handlers.js';

/** A JSON-RPC 2.0 message as it travels: only `jsonrpc` is known to be there. */
export type RpcMessage = {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: unknown;
};

interface Pending {
  id: string | number;
  method: string;
  /** tools/call: the upstream's own tool name; prompts/get: the prompt; resources/read: the URI. */
  target?: string;
  /** tools/list: whether the agent asked for a later page (a listing is whole only from its first page). */
  paged?: boolean;
  arguments?: unknown;
  startedAt: number;
}

const isRequest = (message: RpcMessage) => typeof message.method === 'string' && message.id !== undefined && message.id !== null;
const idKey = (id: string | number) => `${typeof id}:${id}`;

/**
 * The agent's requests of one HTTP request on the transparent endpoint `/mcp/{id}`, followed
 * until each is answered. On the way in the upstream's tool rules apply (a tool the person may
 * not use is unknown, a renamed tool goes by its own name); on the way out the answers the rules
 * shape are rewritten (`tools/list`), every answer is audited, and the requests the upstream
 * never answered (down, slow, refused) are answered for it.
 */
export class RelayedRequests {
  readonly #pending = new Map<string, Pending>();

  constructor(
    private readonly deps: {
      upstream: UpstreamConfig;
      person: Person;
      /** The agent (its OAuth client): an approval is for one person and agent. */
      client: { id: string; name?: string };
      clientCapabilities: ClientCapabilities;
      /**
       * The exchange is MCP 2026-07-28 (a stateless agent's, relayed to an upstream of that era):
       * every result must carry `resultType`, and one without it is not passed on.
       */
      modern?: boolean;
      audit: (input: AuditInput, message: string) => void;
      /** Loaded for the upstream before {@link admit}: its checks are synchronous. */
      pins: ToolPins;
      quotas: ToolQuotas;
      /** The HTTP request's calls counted by quotas (the request context's `countedCalls`). */
      countedCalls: Set<string>;
      approvals: ToolApprovals;
      /** Recording what a listing showed failed (the answer goes on; the Store is asked again next time). */
      onError: (error: unknown) => void;
    },
  ) {}

  /** Requests still waiting for their answer. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * The messages to send upstream, or, when a request may not go there, the answers to give the
   * agent instead (a batch is refused whole: its other requests are not sent either).
   */
  async admit(messages: RpcMessage[]): Promise<{ forward: RpcMessage[] } | { refused: RpcMessage[] }> {
    const { upstream, person, pins, quotas } = this.deps;
    // The answers for requests that may not go upstream.
    const denied = new Map<RpcMessage, RpcMessage>();
    const awaitingApproval: Array<{ message: RpcMessage; tool: string }> = [];
    const toolError = (message: RpcMessage, text: string): RpcMessage => this.#toolError(message.id!, text);
    const forward = await Promise.all(
      messages.map(async (message) => {
        if (message.method !== 'tools/call' || typeof message.params?.name !== 'string') return message;
        const original = originalToolName(upstream, message.params.name);
        if (!toolAllowed(upstream, original, person)) {
          denied.set(message, errorAnswer(message.id!, ProtocolErrorCode.InvalidParams, `unknown tool "${message.params.name}"`));
          this.deps.audit(
            {
              event: 'policy_denied',
              outcome: 'denied',
              upstream: upstream.id,
              details: { rule: 'tools', method: 'tools/call', tool: original },
            },
            'tool call denied by policy',
          );
          return message;
        }
        if (pins.checkCall(upstream.id, upstream.tools.pinning, original) === 'hold') {
          denied.set(message, toolError(message, heldToolText(upstream.id, message.params.name)));
          this.deps.audit(
            {
              event: 'policy_denied',
              outcome: 'denied',
              upstream: upstream.id,
              details: { rule: 'pinning', method: 'tools/call', tool: original },
            },
            'tool call held: its definition awaits approval',
          );
          return message;
        }
        const refusal = await quotas.take(upstream, original, person.id, this.deps.countedCalls);
        if (refusal) {
          denied.set(message, toolError(message, refusal.text));
          this.deps.audit(quotaRefusedEvent(upstream.id, original, refusal), 'tool call refused: limit reached');
          return message;
        }
        if (needsApproval(upstream, original)) awaitingApproval.push({ message, tool: original });
        return original === message.params.name ? message : { ...message, params: { ...message.params, name: original } };
      }),
    );
    // Last, one by one: an approval is used up by its call, so none is spent on a batch refused for another reason.
    for (const { message, tool } of denied.size > 0 ? [] : awaitingApproval) {
      const unapproved = await this.#approve(message, tool);
      if (!unapproved) continue;
      denied.set(message, unapproved);
      break;
    }
    if (denied.size > 0) {
      const refused = messages
        .filter(isRequest)
        .map(
          (message) =>
            denied.get(message) ??
            errorAnswer(message.id!, ProtocolErrorCode.InvalidRequest, 'not sent: another request of this batch was refused'),
        );
      return { refused };
    }
    const startedAt = Date.now();
    for (const message of forward) {
      if (!isRequest(message)) continue;
      const params = message.params ?? {};
      const target =
        message.method === 'tools/call' || message.method === 'prompts/get'
          ? params.name
          : message.method === 'resources/read'
            ? params.uri
            : undefined;
      this.#pending.set(idKey(message.id!), {
        id: message.id!,
        method: message.method!,
        target: target as string | undefined,
        arguments: params.arguments,
        paged: params.cursor !== undefined,
        startedAt,
      });
    }
    return { forward };
  }

  /**
   * A call that needs the person's approval: `undefined` when it has it (an approval its identical
   * call was given, or a standing one), else the answer that sends the person to approve. The
   * relay cannot hold the agent's message while it asks: an agent that declared URL elicitation
   * gets MCP's "URL elicitation required" error (-32042), any other a tool error with the URL;
   * either retries once the person approved.
   */
  async #approve(message: RpcMessage, tool: string): Promise<RpcMessage | undefined> {
    const { upstream, person, client, approvals } = this.deps;
    const shown = message.params!.name as string;
    const args = message.params!.arguments as Record<string, unknown> | undefined;
    const gate = await approvals.gate({ person, client, upstream, tool, arguments: args });
    if (gate.kind === 'go') return undefined;
    const toolError = (text: string): RpcMessage => this.#toolError(message.id!, text);
    if (gate.kind === 'denied') return toolError(approvalRefusedText(shown, upstream.id, 'denied'));
    if (gate.kind === 'refuse') {
      this.deps.audit(
        { event: 'policy_denied', outcome: 'denied', upstream: upstream.id, details: { rule: 'approval', method: 'tools/call', tool } },
        'tool call refused: no person can approve it',
      );
      return toolError(approvalRefusedText(shown, upstream.id, 'refuse'));
    }
    const { request, url } = gate;
    if (gate.created) {
      this.deps.audit(
        {
          event: 'tool_call_approval_requested',
          outcome: 'success',
          upstream: upstream.id,
          arguments: args,
          details: { tool, request: request.id, argumentsHash: request.argumentsHash },
        },
        "tool call awaits the person's approval",
      );
    }
    const text = approvalNeededText(shown, upstream.id, url);
    const elicitation = this.deps.clientCapabilities.elicitation as { url?: object } | undefined;
    if (!elicitation?.url) return toolError(text);
    return errorAnswer(message.id!, ProtocolErrorCode.UrlElicitationRequired, text, {
      elicitations: [{ mode: 'url', elicitationId: request.id, url, message: text }],
    });
  }

  /** An upstream message on its way to the agent: the same object, or the rewritten answer. */
  answer(message: RpcMessage): RpcMessage {
    if (message.method !== undefined || message.id === undefined || message.id === null) return message;
    const key = idKey(message.id);
    const request = this.#pending.get(key);
    if (!request) return message;
    this.#pending.delete(key);
    if (this.deps.modern && message.result && typeof message.result.resultType !== 'string') {
      // What the agent would otherwise take for a 2026 answer is not one: it gets the failure instead, as on `/mcp`.
      const error = new UpstreamProtocolError(this.deps.upstream.id, { internal: `a ${request.method} result without resultType` });
      const failure = this.#failure(request, error);
      this.#audit(request, failure, error.code);
      return failure;
    }
    this.#audit(request, message);
    if (request.method === 'tools/list' && message.result && Array.isArray(message.result.tools))
      return this.#presentTools(message, !request.paged && !message.result.nextCursor);
    return message;
  }

  /**
   * The upstream ended the stream before answering, for the agent to resume it elsewhere
   * (Last-Event-ID, SEP-1699): the requests are recorded as relayed, their answers are not seen here.
   */
  handOff(): void {
    for (const request of this.#pending.values())
      this.#audit(request, { jsonrpc: '2.0', id: request.id }, undefined, 'on a resumed stream');
    this.#pending.clear();
  }

  /** `notifications/cancelled` for every request still pending (MCP "Cancellation"). */
  cancellations(reason: string): RpcMessage[] {
    return [...this.#pending.values()].map(({ id }) => ({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason },
    }));
  }

  /** Answers for every request the upstream left unanswered, because of `error`. */
  unanswered(error: UpstreamError): RpcMessage[] {
    const answers: RpcMessage[] = [];
    for (const request of this.#pending.values()) {
      const answer = this.#failure(request, error);
      this.#audit(request, answer, error.code);
      answers.push(answer);
    }
    this.#pending.clear();
    return answers;
  }

  #failure(request: Pending, error: UpstreamError): RpcMessage {
    const { id } = request;
    const elicitation = this.deps.clientCapabilities.elicitation as { url?: object } | undefined;
    if (error instanceof UpstreamConnectRequiredError && elicitation?.url) {
      // MCP 2025-11-25 "URL Elicitation Required": the agent sends the person to the connect page, then retries.
      return errorAnswer(id, ProtocolErrorCode.UrlElicitationRequired, error.message, {
        elicitations: [{ mode: 'url', elicitationId: randomUUID(), url: error.connectUrl, message: error.message }],
      });
    }
    const text = upstreamErrorText(this.deps.upstream.id, error);
    // A tool call gets a tool error the agent's model can read; any other request a JSON-RPC error.
    if (request.method === 'tools/call') return this.#toolError(id, text);
    return errorAnswer(id, ProtocolErrorCode.InternalError, text);
  }

  /** A tool error of the portal's own, a complete result in the agent's era. */
  #toolError(id: string | number, text: string): RpcMessage {
    return {
      jsonrpc: '2.0',
      id,
      result: { ...(this.deps.modern ? { resultType: 'complete' } : {}), isError: true, content: [{ type: 'text', text }] },
    };
  }

  /** A listing as the person sees it; what it shows is recorded against the pins meanwhile. */
  #presentTools(message: RpcMessage, complete: boolean): RpcMessage {
    const { upstream, person, pins } = this.deps;
    const listed = message.result!.tools as Tool[];
    if (upstream.tools.pinning !== 'off') pins.observe(upstream.id, upstream.tools.pinning, listed, complete).catch(this.deps.onError);
    const tools = visibleTools({ pins, auth: { person }, naming: 'transparent', maxToolNameLength: MAX_NAME_LENGTH }, upstream, listed);
    return { ...message, result: { ...message.result, tools } };
  }

  #audit(request: Pending, answer: RpcMessage, errorCode?: string, answeredElsewhere?: string): void {
    const upstream = this.deps.upstream.id;
    const outcome = answer.error !== undefined || answer.result?.isError === true ? 'error' : 'success';
    const latencyMs = Date.now() - request.startedAt;
    if (request.method === 'tools/call') {
      const details = {
        method: 'tools/call',
        tool: request.target,
        ...(answer.result?.isError === true ? { toolError: true } : {}),
        ...(errorCode ? { errorCode } : {}),
        ...(answeredElsewhere ? { answer: answeredElsewhere } : {}),
      };
      this.deps.audit(
        { event: 'mcp_tool_call', outcome, upstream, latencyMs, arguments: request.arguments, result: answer.result?.content, details },
        outcome === 'success' ? 'tool called' : 'tool call failed',
      );
    } else if (request.method === 'resources/read') {
      this.deps.audit(
        { event: 'mcp_resource_read', outcome, upstream, latencyMs, details: { method: 'resources/read', uri: request.target } },
        'resource read',
      );
    } else if (request.method === 'prompts/get') {
      this.deps.audit(
        {
          event: 'mcp_prompt_get',
          outcome,
          upstream,
          latencyMs,
          arguments: request.arguments,
          details: { method: 'prompts/get', prompt: request.target },
        },
        'prompt fetched',
      );
    }
  }
}

function errorAnswer(id: string | number, code: number, message: string, data?: unknown): RpcMessage {
  return { jsonrpc: '2.0', id, error: { code, message, ...(data === undefined ? {} : { data }) } };
}
