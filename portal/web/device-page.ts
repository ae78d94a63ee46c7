import { html, layout } from './html.js';

/**
 * The page where a signed-in person types the code a device shows them (RFC 8628 §3.3): a hidden
 * `csrf`, `input[name=user_code]` and one submit button. What the device asks for is shown next,
 * on the consent page.
 */
export function renderDeviceCodePage(view: { csrf: string; personName: string; userCode?: string }): string {
  return layout(
    'Connect a device',
    html`<h1>Connect a device</h1>
<p>Signed in as <strong>${view.personName}</strong>.</p>
<p>Enter the code your device or terminal shows. Only enter a code you got from a device you are using yourself: whoever asked for it acts as you once you allow it.</p>
<form method="post" action="/device">
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="user-code">Code</label>
<input id="user-code" name="user_code" autocomplete="off" autocapitalize="characters" spellcheck="false" required value="${view.userCode ?? ''}" autofocus>
<button type="submit" class="primary">Continue</button>
</form>`,
  );
}

/** What the person sees once they decided: the device learns it at its next poll. */
export function renderDeviceDonePage(view: { allowed: boolean }): string {
  return layout(
    view.allowed ? 'Device connected' : 'Device refused',
    view.allowed
      ? html`<h1>Device connected</h1><p>You can go back to your device: it continues by itself. You can revoke its access at any time on your <a href="/connections">connections page</a>.</p>`
      : html`<h1>Device refused</h1><p>The device was told no, and got nothing. You can close this page.</p>`,
  );
}
