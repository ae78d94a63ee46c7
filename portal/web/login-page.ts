import { html, layout } from './html.js';

export interface LoginView {
  returnTo: string;
  csrf: string;
  error?: string;
  username?: string;
  /** Whether the built-in accounts' form is shown. */
  builtin?: boolean;
  /** Identity providers to sign in with: a link each (not a form, so the page keeps one submit button). */
  idps?: Array<{ title: string; href: string }>;
}

/**
 * The sign-in page: company identity providers as buttons, and the built-in accounts' form with
 * `input[name=username]`, `input[name=password]` and one submit button (DESIGN.md).
 */
export function renderLoginPage(view: LoginView): string {
  const idps = view.idps ?? [];
  const builtin = view.builtin ?? true;
  return layout(
    'Sign in',
    html`<h1>Sign in to Gatehouse</h1>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
${idps.length ? html`<nav aria-label="Sign in with">${idps.map((idp) => html`<p><a class="idp" href="${idp.href}" style="display:block;padding:.5rem 1rem;border:1px solid #d0d7de;border-radius:6px;text-align:center;text-decoration:none">Sign in with ${idp.title}</a></p>`)}</nav>` : ''}
${idps.length && builtin ? html`<p class="muted">Or with a Gatehouse account:</p>` : ''}
${
  builtin
    ? html`<form method="post" action="/login">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="return_to" value="${view.returnTo}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required value="${view.username ?? ''}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`
    : ''
}`,
  );
}
