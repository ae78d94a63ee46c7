import { html, layout, type SignedIn } from './html.js';
import { displayTime } from './page-csrf.js';

/** An HTTP app the person may open. */
export interface HomeApp {
  title: string;
  url: string;
}

/** An MCP upstream the person may use, and what the portal knows it offers. */
export interface HomeMcpUpstream {
  id: string;
  title: string;
  /** Tools pinned at the upstream's first listing; `undefined` before any agent listed them. */
  toolCount?: number;
  /** Its own MCP URL (`/mcp/{id}`). */
  url: string;
  /** Where the person connects their own account first (`oauth` credentials), when they must. */
  connectUrl?: string;
}

/** A tool call of one of the person's agents, waiting for the person to allow or deny it. */
export interface HomePendingApproval {
  /** Its approval page, `/approve/{request}`. */
  url: string;
  clientName: string;
  upstreamTitle: string;
  tool: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

export interface HomeView {
  signedIn: SignedIn;
  issuer: string;
  apps: HomeApp[];
  mcp: HomeMcpUpstream[];
  /** Tool calls waiting for the person's approval, oldest first. */
  approvals: HomePendingApproval[];
  isAdmin: boolean;
}

const STYLE = html`<style>body{max-width:52rem}section{margin:1.5rem 0}pre{background:#f6f8fa;padding:.6rem;border-radius:6px;overflow-x:auto;font-size:.85rem;white-space:pre-wrap;word-break:break-all}ul.apps{padding-left:1.2rem}ul.apps li{margin:.3rem 0}.connect{font-weight:600}</style>`;

/**
 * `GET /`: the portal's home for a signed-in person: tool calls waiting for their approval, the
 * apps they may use, how to connect an agent (copy-ready lines for common MCP clients), and where
 * their agents and connections are.
 * No scripts: the lines are there to select and copy.
 */
export function renderHomePage(view: HomeView): string {
  const mcpUrl = `${view.issuer}/mcp`;
  const mcpServers = JSON.stringify({ mcpServers: { gatehouse: { url: mcpUrl } } }, null, 2);
  return layout(
    'Home',
    html`${STYLE}<h1>Gatehouse</h1>
<p><a href="/connections">Your agents and connections</a>${view.isAdmin ? html` · <a href="/admin">Administration</a>` : ''}</p>
${
  view.approvals.length
    ? html`<section aria-labelledby="approvals"><h2 id="approvals">Waiting for your approval</h2>
<ul class="approvals">${view.approvals.map((a) => {
        const asked = displayTime(a.createdAt);
        return html`<li><a href="${a.url}"><strong class="agent-name">${a.clientName}</strong> wants to call <code class="tool">${a.tool}</code> on ${a.upstreamTitle}</a>${asked ? html` <span class="muted">asked <time datetime="${asked.iso}">${asked.text}</time></span>` : ''}</li>`;
      })}</ul></section>`
    : ''
}

<section aria-labelledby="apps"><h2 id="apps">Your apps</h2>
${view.apps.length || view.mcp.length ? '' : html`<p>No apps are open to you yet. Ask an administrator.</p>`}
${view.apps.length ? html`<ul class="apps">${view.apps.map((app) => html`<li><a href="${app.url}">${app.title}</a></li>`)}</ul>` : ''}
${
  view.mcp.length
    ? html`<ul class="apps">${view.mcp.map(
        (u) =>
          html`<li data-upstream="${u.id}"><strong>${u.title}</strong> <span class="muted">${u.toolCount === undefined ? 'MCP server' : `MCP server, ${u.toolCount} tool${u.toolCount === 1 ? '' : 's'}`}</span>${u.connectUrl ? html` · <a class="connect" href="${u.connectUrl}">Connect your account</a>` : ''}</li>`,
      )}</ul>`
    : ''
}
</section>

<section aria-labelledby="agent"><h2 id="agent">Connect an agent</h2>
<p>One MCP URL for every server above, acting as you: <code>${mcpUrl}</code>. The agent sends you here to sign in and allow it.</p>
<p>Claude Code:</p>
<pre>claude mcp add --transport http gatehouse ${mcpUrl}</pre>
<p>Cursor, VS Code and other clients that read an <code>mcpServers</code> block:</p>
<pre>${mcpServers}</pre>
<p>Clients that only speak stdio, through <code>mcp-remote</code>:</p>
<pre>npx mcp-remote ${mcpUrl}</pre>
${view.mcp.length ? html`<p>One server alone, with its own names: ${view.mcp.map((u, i) => html`${i ? ', ' : ''}<code>${u.url}</code>`)}.</p>` : ''}
</section>`,
    view.signedIn,
  );
}
