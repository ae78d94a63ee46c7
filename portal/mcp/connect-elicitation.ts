import { randomUUID } from 'node:crypto';
import type { ElicitResult } from '@modelcontextprotocol/server';
import { UpstreamConnectRequiredError, UpstreamUnauthorizedError, type UpstreamError } from '../../adapters/upstream-errors.js';
import { parseBearerChallenge } from '../credentials/challenge.js';
import type { EndpointContext } from './endpoint-context.js';

/** How long a tool call waits for the person to finish connecting in their browser. */
const CONNECT_WAIT_MS = 5 * 60_000;

/**
 * Runs `call`; when it needs the person's own account at the upstream (not connected, expired, or
 * more scope), asks the agent to send the person to the connect page with a URL-mode elicitation
 * (MCP 2025-11-25, "Elicitation", URL mode), waits for the connect to complete in any portal
 * process, says so (`notifications/elicitation/complete`) and runs `call` once more. For a 2026
 * agent the elicitation is an `input_required` round (input-rounds.ts) and the call goes on once
 * its retry accepts. Agents that did not declare `elicitation.url` get the error, whose text
 * carries the connect URL.
 */
export async function withConnect<T>(ctx: EndpointContext, signal: AbortSignal, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof UpstreamConnectRequiredError) || !(await askToConnect(ctx, error, signal))) throw error;
    return call();
  }
}

/** Resolves `true` once the person connected after the agent accepted the elicitation. */
async function askToConnect(ctx: EndpointContext, error: UpstreamConnectRequiredError, signal: AbortSignal): Promise<boolean> {
  const elicitation = ctx.session.clientCapabilities.elicitation as { url?: object } | undefined;
  if (!elicitation?.url || !ctx.askAgent) return false;
  const since = Date.now();
  const elicitationId = randomUUID();
  ctx.logger.info(
    { event: 'upstream_connect_elicited', upstream: error.upstreamId, reason: error.reason },
    'agent asked to send the person to connect',
  );
  let answer: ElicitResult;
  try {
    const asked = ctx.askAgent({
      method: 'elicitation/create',
      params: { mode: 'url', elicitationId, url: error.connectUrl, message: error.message },
    });
    // The agent may cancel its call while the person decides: stop waiting then.
    const cancelled = new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true }),
    );
    asked.catch(() => {});
    answer = (await Promise.race([asked, cancelled])) as ElicitResult;
  } catch {
    return false;
  }
  if (answer.action !== 'accept') return false;
  const connected = await ctx.connections.waitForConnect(ctx.auth.person.id, error.upstreamId, since, {
    signal,
    timeoutMs: CONNECT_WAIT_MS,
  });
  // A 2026 agent learns the outcome from its retry's answer: that revision has no completion notification.
  if (connected && ctx.era === 'legacy')
    await ctx.inFlight.sendNotification({ method: 'notifications/elicitation/complete', params: { elicitationId } }).catch(() => {});
  return connected;
}

/** The text of the tool error an agent gets when an upstream call failed: what happened and, where the person can act, how. */
export function upstreamErrorText(upstreamId: string, error: UpstreamError): string {
  if (error instanceof UpstreamConnectRequiredError) return error.message;
  if (error instanceof UpstreamUnauthorizedError) {
    const challenge = parseBearerChallenge(error.wwwAuthenticate);
    if (error.status === 403 && challenge?.error === 'insufficient_scope') {
      return `Upstream "${upstreamId}" needs more access than this grant carries (step-up: scope ${challenge.scope?.join(' ') || 'unspecified'}).`;
    }
    return `Upstream "${upstreamId}" refused the portal's credential. This is a configuration problem for an operator; it has been logged.`;
  }
  return `Upstream "${upstreamId}" could not answer: ${error.message}`;
}
