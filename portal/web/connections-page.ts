import { html, layout, type SafeHtml } from './html.js';
import { displayTime } from './page-csrf.js';

/** One agent the person authorized (a grant). */
export interface AgentRow {
  grantId: string;
  clientName: string;
  clientId: string;
  authorizedAt: number;
  lastUsedAt?: number;
  /** What it reaches: the resource's name and the apps' names. */
  resources: string[];
  scope: string;
}

/** One upstream that needs the person's own connection (credentials `oauth`). */
export interface UpstreamConnectionRow {
  id: string;
  title: string;
  status: 'connected' | 'reconnect_required' | 'not_connected';
  connectedAt?: number;
  /** Where the person (re)connects: `/connect/{id}`. */
  connectUrl: string;
}

export interface ConnectionsView {
  personName: string;
  csrf: string;
  agents: AgentRow[];
  /** Absent when no upstream needs a connection of its own (or that capability is not there). */
  upstreams?: UpstreamConnectionRow[];
  notice?: string;
}

const STYLE = html`<style>body{max-width:60rem}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #d0d7de;vertical-align:top}form.inline{display:inline;margin:0}form.inline button{margin:0}.notice{background:#dafbe1;padding:.5rem;border-radius:4px}</style>`;

function when(ms: number | undefined, fallback: string): SafeHtml {
  const t = displayTime(ms);
  return t ? html`<time datetime="${t.iso}">${t.text}</time>` : html`<span class="muted">${fallback}</span>`;
}

/** `/connections`: the signed-in person's agents (with revoke) and upstream connections. Every value is escaped by `html`. */
export function renderConnectionsPage(view: ConnectionsView): string {
  const agents = view.agents.length
    ? html`<table>
<caption class="muted">Agents you authorized to act as you</caption>
<thead><tr><th scope="col">Agent</th><th scope="col">Authorized</th><th scope="col">Last used</th><th scope="col">Can reach</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${view.agents.map(
        (a) => html`<tr data-grant="${a.grantId}">
<td><strong class="client-name">${a.clientName}</strong><br><span class="muted">${a.clientId}</span></td>
<td>${when(a.authorizedAt, 'unknown')}</td>
<td>${when(a.lastUsedAt, 'not yet')}</td>
<td>${a.resources.join(', ')}<br><span class="muted">scope: ${a.scope}</span></td>
<td><form class="inline" method="post" action="/connections/revoke">
<input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="grant" value="${a.grantId}">
<button type="submit" aria-label="Revoke ${a.clientName}">Revoke</button></form></td>
</tr>`,
      )}</tbody></table>`
    : html`<p>You have not authorized any agent.</p>`;

  const upstreams = view.upstreams
    ? html`<h2>Apps you connected</h2>
${view.upstreams.length ? html`<table>
<thead><tr><th scope="col">App</th><th scope="col">Status</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${view.upstreams.map(
        (u) => html`<tr data-upstream="${u.id}"><td>${u.title}</td>
<td>${u.status === 'connected' ? html`Connected ${when(u.connectedAt, '')}` : u.status === 'reconnect_required' ? 'Needs re-connecting' : 'Not connected'}</td>
<td>${u.status === 'not_connected' ? '' : html`<form class="inline" method="post" action="/connections/disconnect"><input type="hidden" name="csrf" value="${view.csrf}"><input type="hidden" name="upstream" value="${u.id}"><button type="submit" aria-label="Disconnect ${u.title}">Disconnect</button></form> `}
${u.status === 'connected' ? '' : html`<a href="${u.connectUrl}">${u.status === 'reconnect_required' ? 'Re-connect' : 'Connect'}</a>`}</td></tr>`,
      )}</tbody></table>` : html`<p>No app needs a connection of its own.</p>`}`
    : '';

  return layout(
    'Your connections',
    html`${STYLE}<h1>Your connections</h1>
<p>Signed in as <strong>${view.personName}</strong>. <form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="${view.csrf}"><button type="submit">Sign out</button></form></p>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
<h2>Agents</h2>
${agents}
<p class="muted">Revoking an agent ends its access at once, on every device it runs on. It can ask you again later.</p>
${upstreams}`,
  );
}
