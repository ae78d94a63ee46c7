import { html } from './html.js';

/**
 * A page that moves the browser on by itself (`<meta http-equiv="refresh">`, plus a link), where a
 * 303 cannot: a redirect answering a form post belongs to the form's submission, so Chrome checks
 * it, and every redirect after it, against the page's CSP `form-action 'self'`. The sign-in form
 * answers with this page; whatever follows (a remembered consent sending the browser back to the
 * agent, an upstream's sign-in for a connect, an app host's hand-off) is a plain navigation then.
 */
export function renderContinuePage(view: { url: string; going: string }): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="0;url=${view.url}">
<title>${view.going} · Gatehouse</title>
</head>
<body><p>${view.going}… <a href="${view.url}">Continue</a></p></body>
</html>`.value;
}
