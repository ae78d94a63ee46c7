import { randomUUID } from 'node:crypto';
import type { CallToolRequestParams, CallToolResult, ElicitResult } from '@modelcontextprotocol/server';
import type { UpstreamConfig } from '../config/schema.js';
import { approvalNeededText, approvalRefusedText } from '../governance/tool-approvals.js';
import { needsApproval } from '../policy/tools.js';
import { record, type EndpointContext } from './endpoint-context.js';

/** Whether a call may go on (and which approval let it), or the tool error the agent gets instead. */
export type ApprovalVerdict = { go: true; approval?: string } | { go: false; result: CallToolResult };

/**
 * Holds a call to a tool that needs its person's approval (`tools.approval`) until they give it on
 * `{issuer}/approve/{request}`. An agent that declared URL-mode elicitation (MCP 2025-11-25,
 * "Elicitation", URL mode) is asked to send the person there, and the call waits for the decision
 * (a 2026 agent gets the elicitation as an `input_required` round: input-rounds.ts); any other
 * agent gets a tool error with the URL, and its retry with the same arguments, once approved,
 * goes. Nothing reaches the upstream before an approval.
 */
export async function awaitApproval(
  ctx: EndpointContext,
  signal: AbortSignal,
  upstream: UpstreamConfig,
  tool: string,
  params: CallToolRequestParams,
): Promise<ApprovalVerdict> {
  if (!needsApproval(upstream, tool)) return { go: true };
  const refused = (text: string): ApprovalVerdict => ({ go: false, result: { isError: true, content: [{ type: 'text', text }] } });
  const gate = await ctx.approvals.gate({
    person: ctx.auth.person,
    client: { id: ctx.auth.clientId, name: ctx.auth.clientName },
    upstream,
    tool,
    arguments: params.arguments,
  });
  if (gate.kind === 'go') return { go: true, approval: gate.request?.id ?? 'standing' };
  if (gate.kind === 'denied') return refused(approvalRefusedText(params.name, upstream.id, 'denied'));
  if (gate.kind === 'refuse') {
    record(
      ctx,
      { event: 'policy_denied', outcome: 'denied', upstream: upstream.id, details: { rule: 'approval', method: 'tools/call', tool } },
      'tool call refused: no person can approve it',
    );
    return refused(approvalRefusedText(params.name, upstream.id, 'refuse'));
  }
  const { request, url } = gate;
  const details = { tool, request: request.id, argumentsHash: request.argumentsHash };
  if (gate.created)
    record(
      ctx,
      { event: 'tool_call_approval_requested', outcome: 'success', upstream: upstream.id, arguments: params.arguments, details },
      "tool call awaits the person's approval",
    );
  const elicitation = ctx.session.clientCapabilities.elicitation as { url?: object } | undefined;
  if (!elicitation?.url || !ctx.askAgent) return refused(approvalNeededText(params.name, upstream.id, url));

  const elicitationId = randomUUID();
  let answer: ElicitResult;
  try {
    const asked = ctx.askAgent({
      method: 'elicitation/create',
      params: {
        mode: 'url',
        elicitationId,
        url,
        message: `Approve or deny this call of tool "${params.name}" of upstream "${upstream.id}": the page shows its arguments.`,
      },
    });
    asked.catch(() => {});
    // The agent may cancel its call while the person decides: stop waiting then.
    const cancelled = new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true }),
    );
    cancelled.catch(() => {});
    answer = (await Promise.race([asked, cancelled])) as ElicitResult;
  } catch {
    return refused(approvalNeededText(params.name, upstream.id, url));
  }
  if (answer.action !== 'accept') return refused(approvalRefusedText(params.name, upstream.id, 'declined', url));
  const outcome = await ctx.approvals.wait(request, signal);
  // A 2026 agent learns the outcome from its retry's answer: that revision has no completion notification.
  if (ctx.era === 'legacy')
    await ctx.inFlight.sendNotification({ method: 'notifications/elicitation/complete', params: { elicitationId } }).catch(() => {});
  if (outcome === 'approved') return { go: true, approval: request.id };
  if (outcome === 'expired') {
    record(
      ctx,
      {
        event: 'tool_call_denied',
        outcome: 'denied',
        upstream: upstream.id,
        arguments: params.arguments,
        details: { ...details, reason: 'timeout' },
      },
      'tool call not approved in time',
    );
  }
  return refused(approvalRefusedText(params.name, upstream.id, outcome));
}
