import { html } from './html.js';

/**
 * A page that moves the browser on to another origin by itself (`<meta http-equiv="refresh">`,
 * plus a link). Used where a redirect cannot be: after the sign-in form, a cross-origin 303 would be
 * blocked by the login page's CSP `form-action 'self'`, which covers the redirects a form causes.
 */
export function renderContinuePage(view: { url: string; appName: string }): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="0;url=${view.url}">
<title>Opening ${view.appName} · Gatehouse</title>
</head>
<body><p>Opening ${view.appName}… <a href="${view.url}">Continue</a></p></body>
</html>`.value;
}
