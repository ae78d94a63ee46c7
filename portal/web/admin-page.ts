import { html, layout, type SafeHtml, type SignedIn } from './html.js';
import { displayTime } from './page-csrf.js';
import { spokenDuration } from './spoken-duration.js';

/** One run of lines of a tool definition (pretty-printed JSON): as pinned, added since, or removed since. */
export interface DefinitionChange {
  kind: 'same' | 'added' | 'removed';
  text: string;
}

/** An MCP upstream's tool rules, as configured: pinning, approval and limits. */
export interface ToolRulesView {
  upstream: string;
  pinning: string;
  /** Tool names or globs whose calls wait for the person's approval. */
  approval: readonly string[];
  approvalTtlMs: number;
  approvalTimeoutMs: number;
  /** Per tool (`*`: every tool of the upstream together), calls per person. */
  limits: Array<{ tool: string; perMinute?: number; perDay?: number }>;
}

export interface AdminPageView {
  signedIn: SignedIn;
  csrf: string;
  upstreams: Array<{ id: string; title?: string; kind: string; url?: string; source: string }>;
  clients: Array<{ clientId: string; clientName?: string; kind: string }>;
  /** The grants searched for (`?person=` or `?client=`), when a search was made. */
  grantSearch?: {
    by: 'person' | 'client';
    value: string;
    grants: Array<{
      id: string;
      person: string;
      clientName: string;
      clientId: string;
      createdAt: number;
      lastUsedAt?: number;
      resource: string;
    }>;
  };
  /** Each MCP upstream's tool rules. */
  toolRules: ToolRulesView[];
  /** Tools held (or flagged) because their definition is not the one pinned, with what changed. */
  heldTools: Array<{ upstream: string; name: string; status: string; since: string; changes: DefinitionChange[] }>;
  events: Array<{
    time: string;
    event: string;
    outcome: string;
    person?: string;
    clientName?: string;
    clientId?: string;
    upstream?: string;
    detail?: string;
  }>;
  notice?: string;
  error?: string;
  /** What the add-upstream form held when it was refused. */
  draft?: { id?: string; kind?: string; title?: string; url?: string };
}

const STYLE = html`<style>body{max-width:72rem}table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.3rem;border-bottom:1px solid #d0d7de;vertical-align:top}fieldset{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0}.notice{background:#dafbe1;padding:.5rem;border-radius:4px}input,select{width:auto}pre.diff{background:#f6f8fa;padding:.5rem;overflow-x:auto;font-size:.85rem;white-space:pre-wrap}pre.diff ins{background:#dafbe1;text-decoration:none}pre.diff del{background:#ffebe9}ul.limits{margin:0;padding-left:1rem}</style>`;

function when(ms: number | undefined): SafeHtml {
  const t = displayTime(ms);
  return t ? html`<time datetime="${t.iso}">${t.text}</time>` : html`<span class="muted">never</span>`;
}

function approvalRule(rules: ToolRulesView): SafeHtml {
  if (!rules.approval.length) return html`<span class="muted">none</span>`;
  const names = rules.approval.map((name, i) => html`${i ? ', ' : ''}<code>${name}</code>`);
  const standing = rules.approvalTtlMs > 0 ? `an approval holds ${spokenDuration(rules.approvalTtlMs)}` : 'every call asks';
  return html`${names}<br><span class="muted">${standing}; unanswered after ${spokenDuration(rules.approvalTimeoutMs)}, refused</span>`;
}

function limitRules(rules: ToolRulesView): SafeHtml {
  if (!rules.limits.length) return html`<span class="muted">none</span>`;
  return html`<ul class="limits">${rules.limits.map((limit) => {
    const periods = [
      limit.perMinute === undefined ? '' : `${limit.perMinute} per minute`,
      limit.perDay === undefined ? '' : `${limit.perDay} per day`,
    ]
      .filter(Boolean)
      .join(', ');
    return html`<li data-tool="${limit.tool}">${limit.tool === '*' ? 'every tool together' : html`<code>${limit.tool}</code>`}: ${periods}</li>`;
  })}</ul>`;
}

function hidden(csrf: string): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${csrf}">`;
}

/** `/admin`: upstreams (add, remove), each MCP upstream's tool rules, tools awaiting approval (with what changed), clients, a grant search with revoke, recent audit events. Escaped by `html`. */
export function renderAdminPage(view: AdminPageView): string {
  const draft = view.draft ?? {};
  return layout(
    'Administration',
    html`${STYLE}<h1>Gatehouse administration</h1>
<p>The same operations are in the JSON admin API at <code>/admin/api/v1/</code> and the <code>gatehouse</code> CLI.</p>
${view.notice ? html`<p class="notice" role="status">${view.notice}</p>` : ''}
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<h2 id="upstreams">Upstreams</h2>
<table><thead><tr><th scope="col">Id</th><th scope="col">Title</th><th scope="col">Kind</th><th scope="col">URL</th><th scope="col">Defined in</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${view.upstreams.map(
      (
        u,
      ) => html`<tr data-upstream="${u.id}"><td><code>${u.id}</code></td><td class="upstream-title">${u.title ?? ''}</td><td>${u.kind}</td><td>${u.url ?? html`<span class="muted">stdio</span>`}</td><td>${u.source === 'admin' ? 'admin API' : 'config file'}</td>
<td>${u.source === 'admin' ? html`<form class="inline" method="post" action="/admin/upstreams/delete">${hidden(view.csrf)}<input type="hidden" name="id" value="${u.id}"><button type="submit" aria-label="Remove ${u.id}">Remove</button></form>` : html`<span class="muted">read-only</span>`}</td></tr>`,
    )}</tbody></table>
<form method="post" action="/admin/upstreams"><fieldset><legend>Add an upstream</legend>${hidden(view.csrf)}
<label for="up-id">Id</label><input id="up-id" name="id" required pattern="[a-z0-9][a-z0-9-]{0,30}" value="${draft.id ?? ''}">
<label for="up-kind">Kind</label><select id="up-kind" name="kind"><option value="mcp"${draft.kind === 'http' ? '' : html` selected`}>mcp</option><option value="http"${draft.kind === 'http' ? html` selected` : ''}>http</option></select>
<label for="up-title">Title</label><input id="up-title" name="title" value="${draft.title ?? ''}">
<label for="up-url">URL</label><input id="up-url" name="url" type="url" required value="${draft.url ?? ''}">
<button type="submit">Add upstream</button></fieldset></form>

<h2 id="tool-rules">Tool rules</h2>
${
  view.toolRules.length
    ? html`<table><thead><tr><th scope="col">Upstream</th><th scope="col">Pinning</th><th scope="col">Calls that need the person's approval</th><th scope="col">Limits per person</th></tr></thead>
<tbody>${view.toolRules.map(
        (r) =>
          html`<tr data-upstream="${r.upstream}"><td><code>${r.upstream}</code></td><td class="pinning">${r.pinning}</td><td class="approval">${approvalRule(r)}</td><td class="limits">${limitRules(r)}</td></tr>`,
      )}</tbody></table>`
    : html`<p>No MCP upstreams.</p>`
}

<h2 id="tools">Tools awaiting approval</h2>
${
  view.heldTools.length
    ? view.heldTools.map(
        (
          t,
        ) => html`<section class="held-tool" data-upstream="${t.upstream}" data-tool="${t.name}"><h3><code>${t.upstream}</code> · <code>${t.name}</code> <span class="muted">${t.status} since ${t.since.slice(0, 19).replace('T', ' ')}</span></h3>
<pre class="diff">${t.changes.map((c) => (c.kind === 'added' ? html`<ins>${c.text}</ins>` : c.kind === 'removed' ? html`<del>${c.text}</del>` : c.text))}</pre>
<form class="inline" method="post" action="/admin/tools/approve">${hidden(view.csrf)}<input type="hidden" name="upstream" value="${t.upstream}"><input type="hidden" name="tool" value="${t.name}"><button type="submit" aria-label="Approve ${t.upstream} ${t.name}">Approve</button></form>
${t.status === 'rejected' ? '' : html`<form class="inline" method="post" action="/admin/tools/reject">${hidden(view.csrf)}<input type="hidden" name="upstream" value="${t.upstream}"><input type="hidden" name="tool" value="${t.name}"><button type="submit" aria-label="Reject ${t.upstream} ${t.name}">Reject</button></form>`}</section>`,
      )
    : html`<p>None: every tool is served as pinned.</p>`
}

<h2 id="clients">Clients</h2>
${
  view.clients.length
    ? html`<table><thead><tr><th scope="col">Name</th><th scope="col">Client id</th><th scope="col">Kind</th><th scope="col"><span class="muted">Grants</span></th></tr></thead>
<tbody>${view.clients.map(
        (c) =>
          html`<tr><td class="client-name">${c.clientName ?? ''}</td><td><code>${c.clientId}</code></td><td>${c.kind}</td><td><a href="/admin?client=${encodeURIComponent(c.clientId)}#grants">grants</a></td></tr>`,
      )}</tbody></table>`
    : html`<p>No registered clients.</p>`
}

<h2 id="grants">Grants</h2>
<form method="get" action="/admin"><label for="g-person">Person id (e.g. <code>local:alice</code>)</label><input id="g-person" name="person" value="${view.grantSearch?.by === 'person' ? view.grantSearch.value : ''}">
<button type="submit">Show grants</button></form>
${
  view.grantSearch
    ? html`<p>Grants of ${view.grantSearch.by} <code>${view.grantSearch.value}</code>:</p>
${
  view.grantSearch.grants.length
    ? html`<table><thead><tr><th scope="col">Person</th><th scope="col">Agent</th><th scope="col">Resource</th><th scope="col">Authorized</th><th scope="col">Last used</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>${view.grantSearch.grants.map(
        (
          g,
        ) => html`<tr data-grant="${g.id}"><td>${g.person}</td><td class="client-name">${g.clientName}<br><span class="muted">${g.clientId}</span></td><td>${g.resource}</td><td>${when(g.createdAt)}</td><td>${when(g.lastUsedAt)}</td>
<td><form class="inline" method="post" action="/admin/grants/revoke">${hidden(view.csrf)}<input type="hidden" name="grant" value="${g.id}"><button type="submit" aria-label="Revoke grant of ${g.clientName}">Revoke</button></form></td></tr>`,
      )}</tbody></table>`
    : html`<p>None.</p>`
}`
    : ''
}

<h2 id="audit">Recent audit events</h2>
${
  view.events.length
    ? html`<table><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Outcome</th><th scope="col">Person</th><th scope="col">Agent</th><th scope="col">Upstream</th><th scope="col">Detail</th></tr></thead>
<tbody>${view.events.map(
        (e) =>
          html`<tr><td><time datetime="${e.time}">${e.time.slice(0, 19).replace('T', ' ')}</time></td><td>${e.event}</td><td>${e.outcome}</td><td>${e.person ?? ''}</td><td class="client-name">${e.clientName ?? e.clientId ?? ''}</td><td>${e.upstream ?? ''}</td><td>${e.detail ?? ''}</td></tr>`,
      )}</tbody></table>`
    : html`<p>No events yet.</p>`
}`,
    view.signedIn,
  );
}
