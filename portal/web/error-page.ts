import { html, layout } from './html.js';

/** The page a person sees when something went wrong: what happened, never a stack trace. */
export function renderErrorPage(view: { status: number; title: string; message: string; requestId?: string }): string {
  return layout(
    view.title,
    html`<h1>${view.title}</h1>
<p>${view.message}</p>
<p class="muted">Error ${view.status}${view.requestId ? html` · request <code>${view.requestId}</code>` : ''}</p>`,
  );
}
