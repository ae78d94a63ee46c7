import { html, layout, type SignedIn } from './html.js';

/** What a person sees after connecting (or disconnecting) an upstream that uses their own account. */
export function renderConnectResultPage(view: { title: string; upstreamTitle: string; message: string; signedIn: SignedIn }): string {
  return layout(
    view.title,
    html`<h1>${view.title}</h1>
<p>${view.message}</p>
<p class="muted">You can close this tab and return to your agent, or see all your connections on your <a href="/connections">connections page</a>.</p>`,
    view.signedIn,
  );
}
