import { html, layout } from './html.js';

/**
 * The page a person sees when something went wrong: what happened (never a stack trace), where
 * to go from here, and the request id to quote to whoever runs the portal.
 */
export function renderErrorPage(view: { status: number; title: string; message: string; requestId?: string }): string {
  return layout(
    view.title,
    html`<h1>${view.title}</h1>
<p>${view.message}</p>
<p><a href="/">Go to the portal's home</a>, or back to the application you came from and start again there.</p>
<p class="muted">Error ${view.status}${view.requestId ? html` · request <code>${view.requestId}</code> (quote it when you ask for help)` : ''}</p>`,
  );
}
