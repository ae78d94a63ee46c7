import { html, layout } from './html.js';

/** The sign-in form: `input[name=username]`, `input[name=password]`, one submit button (DESIGN.md). */
export function renderLoginPage(view: { returnTo: string; csrf: string; error?: string; username?: string }): string {
  return layout(
    'Sign in',
    html`<h1>Sign in to Gatehouse</h1>
${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
<form method="post" action="/login">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="return_to" value="${view.returnTo}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required value="${view.username ?? ''}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}
