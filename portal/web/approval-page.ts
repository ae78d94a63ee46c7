import { html, layout, type SignedIn } from './html.js';
import { displayTime } from './page-csrf.js';
import { spokenDuration } from './spoken-duration.js';

export interface ApprovalView {
  requestId: string;
  csrf: string;
  signedIn: SignedIn;
  /** The agent that asks: its client name (chosen by whoever registered it, so shown as a claim) and id. */
  clientName: string;
  clientId: string;
  upstreamTitle: string;
  upstreamId: string;
  /** The upstream's own tool name. */
  tool: string;
  arguments: Record<string, unknown>;
  status: 'pending' | 'approved' | 'denied' | 'used';
  /** Until when a pending request may be decided (ms since the epoch). */
  expiresAt: number;
  /** `approval_ttl`: an approval also lets this agent call the tool this long without asking (0: this call only). */
  standingMs: number;
}

const STYLE = html`<style>pre.arguments{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:.75rem;overflow:auto;max-height:24rem;white-space:pre-wrap;word-break:break-word}.notice{background:#dafbe1;padding:.5rem;border-radius:4px}.denied{background:#ffebe9}</style>`;

const DECIDED: Record<Exclude<ApprovalView['status'], 'pending'>, { text: string; denied?: boolean }> = {
  approved: { text: 'You allowed this call. You can go back to your agent.' },
  used: { text: 'You allowed this call, and the agent made it.' },
  denied: { text: 'You denied this call. It was not made.', denied: true },
};

/**
 * `/approve/{request}`: one tool call waiting for the person, with what it would do (agent,
 * upstream, tool, arguments as pretty-printed JSON) and `button[name=decision][value=allow|deny]`.
 * Every value is escaped by `html`; the arguments are shown, never interpreted.
 */
export function renderApprovalPage(view: ApprovalView): string {
  const expires = displayTime(view.expiresAt);
  const decided = view.status === 'pending' ? undefined : DECIDED[view.status];
  return layout(
    'Approve a tool call',
    html`${STYLE}<h1>Approve a tool call?</h1>
<p>An agent wants to call a tool as you.</p>
<dl>
<dt>Agent</dt><dd><strong class="agent-name">${view.clientName}</strong> <span class="muted">(agent · ${view.clientId})</span></dd>
<dt>App</dt><dd class="upstream">${view.upstreamTitle} <span class="muted">(${view.upstreamId})</span></dd>
<dt>Tool</dt><dd><code class="tool">${view.tool}</code></dd>
<dt>Arguments</dt><dd><pre class="arguments">${JSON.stringify(view.arguments, null, 2)}</pre></dd>
</dl>
${
  decided
    ? html`<p class="notice${decided.denied ? ' denied' : ''}" role="status">${decided.text}${!decided.denied && view.standingMs > 0 ? ` For ${spokenDuration(view.standingMs)} after you allowed it, this agent calls ${view.tool} without asking.` : ''}</p>`
    : html`<form method="post" action="/approve/${view.requestId}">
<input type="hidden" name="csrf" value="${view.csrf}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p class="muted">${view.standingMs > 0 ? `Allow lets this call go ahead, and this agent call ${view.tool} again without asking for ${spokenDuration(view.standingMs)}` : 'Allow lets this one call go ahead, with exactly these arguments'}${expires ? html`; unanswered, it is refused at <time datetime="${expires.iso}">${expires.text}</time>` : ''}. Everything the agent does is recorded under your name.</p>`
}`,
    view.signedIn,
  );
}
