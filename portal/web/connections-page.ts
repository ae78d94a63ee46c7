import { html, layout, type SafeHtml, type SignedIn } from './html.js';
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

/** One of the person's accounts at an upstream. */
export interface AccountRow {
  id: string;
  /** The person's label, else the identity the upstream reported, else "Account N". */
  name: string;
  /** Who the upstream said it is, when it said. */
  reported?: string;
  status: 'connected' | 'reconnect_required';
  connectedAt: number;
  /** Where the person re-connects it: `/connect/{id}?account={account}`. */
  connectUrl: string;
}

/** An agent (by client) that reaches an upstream, and the account it uses there. */
export interface AccountChoiceRow {
  clientId: string;
  clientName: string;
  accountId: string;
}

/** One upstream that needs the person's own accounts (credentials `oauth`). */
export interface UpstreamConnectionRow {
  id: string;
  title: string;
  /** In the order they were added: the first is what an agent uses unless the person chose another. */
  accounts: AccountRow[];
  /** Which account each agent uses; empty when there is nothing to choose (fewer than two accounts). */
  choices: AccountChoiceRow[];
  /** Where the person connects an account (another one, when they hold some): `/connect/{id}`. */
  connectUrl: string;
}

export interface ConnectionsView {
  signedIn: SignedIn;
  csrf: string;
  agents: AgentRow[];
  upstreams: UpstreamConnectionRow[];
  /** The longest name the rename form takes. */
  maxLabel: number;
  notice?: string;
}

const STYLE = html`<style>body{max-width:60rem}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #d0d7de;vertical-align:top}form.inline{display:inline;margin:0}form.inline button{margin:0}.notice{background:#dafbe1;padding:.5rem;border-radius:4px}form.inline input,form.inline select{width:auto;padding:.3rem}</style>`;

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

  const upstreams = view.upstreams.length
    ? html`<h2>Your accounts at apps</h2>
<p class="muted">These apps need your own account there. You may connect several (work and personal, say) and choose which one each agent uses; an agent you did not choose for uses the first.</p>
${view.upstreams.map((u) => upstreamSection(u, view))}`
    : '';

  return layout(
    'Your connections',
    html`${STYLE}<h1>Your connections</h1>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
<h2>Agents</h2>
${agents}
<p class="muted">Revoking an agent ends its access at once, on every device it runs on. It can ask you again later.</p>
${upstreams}`,
    view.signedIn,
  );
}

function upstreamSection(u: UpstreamConnectionRow, view: ConnectionsView): SafeHtml {
  const hidden = (name: string, value: string) => html`<input type="hidden" name="${name}" value="${value}">`;
  const accounts = u.accounts.length
    ? html`<table>
<thead><tr><th scope="col">Account</th><th scope="col">Status</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${u.accounts.map(
        (a) => html`<tr data-account="${a.id}">
<td><strong class="account-name">${a.name}</strong>${a.reported && a.reported !== a.name ? html`<br><span class="muted">signed in as <span class="account-reported">${a.reported}</span></span>` : ''}
<form class="inline" method="post" action="/connections/rename">${hidden('csrf', view.csrf)}${hidden('upstream', u.id)}${hidden('account', a.id)}
<br><input name="label" required maxlength="${view.maxLabel}" value="${a.name}" aria-label="Name of ${u.title} account ${a.name}"> <button type="submit">Rename</button></form></td>
<td>${a.status === 'connected' ? html`Connected ${when(a.connectedAt, '')}` : 'Needs re-connecting'}</td>
<td><form class="inline" method="post" action="/connections/disconnect">${hidden('csrf', view.csrf)}${hidden('upstream', u.id)}${hidden('account', a.id)}<button type="submit" aria-label="Disconnect ${u.title} account ${a.name}">Disconnect</button></form>
${a.status === 'connected' ? '' : html` <a href="${a.connectUrl}">Re-connect</a>`}</td></tr>`,
      )}</tbody></table>`
    : html`<p>Not connected.</p>`;
  const choices = u.choices.length
    ? html`<table>
<caption class="muted">Which account each agent uses at ${u.title}</caption>
<thead><tr><th scope="col">Agent</th><th scope="col">Account</th></tr></thead>
<tbody>${u.choices.map(
        (c) => html`<tr data-client="${c.clientId}"><td class="client-name">${c.clientName}</td>
<td><form class="inline" method="post" action="/connections/account">${hidden('csrf', view.csrf)}${hidden('upstream', u.id)}${hidden('client', c.clientId)}
<select name="account" aria-label="Account ${c.clientName} uses at ${u.title}">${u.accounts.map((a) => html`<option value="${a.id}"${a.id === c.accountId ? html` selected` : ''}>${a.name}</option>`)}</select>
<button type="submit">Use</button></form></td></tr>`,
      )}</tbody></table>`
    : '';
  return html`<section data-upstream="${u.id}">
<h3>${u.title}</h3>
${accounts}
<p><a href="${u.connectUrl}">${u.accounts.length ? 'Connect another account' : 'Connect'}</a></p>
${choices}
</section>`;
}
