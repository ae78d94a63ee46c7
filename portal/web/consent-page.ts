import { html, layout, type SignedIn } from './html.js';

export interface ConsentView {
  requestId: string;
  csrf: string;
  clientName: string;
  clientId: string;
  /** Where the client says it lives: its `client_uri`, or its metadata document URL. */
  clientHome?: string;
  /**
   * The host that publishes the client's metadata document (its client id is that URL), which
   * stands behind its name; absent for a client that registered itself, whose name and home
   * are its own claim and shown as unverified.
   */
  nameVerifiedBy?: string;
  /** The host the person's browser goes back to. */
  redirectHost: string;
  signedIn: SignedIn;
  /** The request came from a code typed at `/device` (RFC 8628): nobody is sent back; the device polls. */
  forDevice?: boolean;
  resourceName: string;
  resourceUrl: string;
  /** Upstreams the grant covers (names). */
  upstreams: string[];
  /** Upstreams the person asked for but may not use, with why. */
  refused: string[];
  scopes: Array<{ name: string; meaning: string }>;
  /** False when the person may use none of what is asked: only "deny" is offered. */
  grantable: boolean;
  /**
   * Set when the client did not ask for `offline_access` but may hold a refresh token: the page
   * offers long-lived access as a checkbox, checked and in plain words (`long_lived=yes`).
   * `accessMinutes` is how long its access lasts without it.
   */
  longLived?: { accessMinutes: number };
  /** Apps in the grant that need the person's own account there, not connected yet. */
  toConnect?: Array<{ title: string; url: string }>;
}

/** The consent form: hidden `csrf`, `button[name=decision][value=allow|deny]` (DESIGN.md). */
export function renderConsentPage(view: ConsentView): string {
  return layout(
    'Authorize an agent',
    html`<h1>Allow <strong>${view.clientName}</strong> to act as you?</h1>
<dl>
<dt>Application</dt><dd>${view.clientName} <span class="muted">(${view.clientHome ?? view.clientId})</span><br>${view.nameVerifiedBy ? html`<span class="muted">Published by <strong>${view.nameVerifiedBy}</strong>.</span>` : html`<span class="muted">Unverified: the application named itself. Allow it only if you started this from the application you expect.</span>`}</dd>
${view.forDevice ? html`<dt>Signs in</dt><dd>the device or terminal that showed you the code you entered. Allow it only if you started this yourself, just now.</dd>` : html`<dt>Returns you to</dt><dd><code>${view.redirectHost}</code></dd>`}
<dt>Wants to use</dt><dd>${view.resourceName} <span class="muted">(${view.resourceUrl})</span></dd>
</dl>
${view.upstreams.length ? html`<p>It will reach these apps with your identity:</p><ul>${view.upstreams.map((u) => html`<li>${u}</li>`)}</ul>` : ''}
${view.toConnect?.length ? html`<p>These apps also need your own account there; connect them now or when your agent first uses them: ${view.toConnect.map((c, i) => html`${i ? ', ' : ''}<a href="${c.url}" target="_blank" rel="noopener">connect ${c.title}</a>`)}.</p>` : ''}
${view.refused.length ? html`<p class="error">You do not have access to: ${view.refused.join(', ')}. Ask an administrator if you need it.</p>` : ''}
<ul>${view.scopes.map((s) => html`<li><code>${s.name}</code>: ${s.meaning}</li>`)}</ul>
${view.grantable ? '' : html`<p class="error" role="alert">There is nothing here you may grant, so this request can only be denied.</p>`}
<form method="post" action="/consent">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="request" value="${view.requestId}">
${
  view.grantable && view.longLived
    ? html`<p><input type="checkbox" id="long-lived" name="long_lived" value="yes" checked style="width:auto"> <label for="long-lived" style="display:inline">Stay connected: it keeps access while you are away, until you revoke it.</label></p>
<p class="muted">Unchecked, its access runs out after ${view.longLived.accessMinutes} minutes and it must send you back here to renew it.</p>`
    : ''
}
${view.grantable ? html`<button type="submit" name="decision" value="allow" class="primary">Allow</button>` : ''}
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p class="muted">Everything it does is recorded under your name. You can revoke it at any time on your <a href="/connections">connections page</a>.</p>`,
    view.signedIn,
  );
}
