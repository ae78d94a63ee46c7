/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * A tagged template whose interpolations are escaped unless they are {@link SafeHtml}
 * (the output of another `html` template), so pages cannot forget to escape.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/** Who a page is for, shown in its header: the person's name, and the sign-out form's CSRF token. */
export interface SignedIn {
  name: string;
  signOutCsrf: string;
}

/**
 * The page frame every server-rendered page shares: one stylesheet, and a header with the
 * portal's name (leading home) and, on a signed-in person's pages, who is signed in with a way
 * to sign out.
 */
export function layout(title: string, body: SafeHtml, signedIn?: SignedIn): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Gatehouse</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1b1f23}
h1{font-size:1.4rem}main{border:1px solid #d0d7de;border-radius:8px;padding:1.5rem}
label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{padding:.5rem 1rem;margin:.75rem .5rem 0 0;cursor:pointer}.muted{color:#57606a;font-size:.9rem}
.error{color:#a40e26}code{background:#f6f8fa;padding:0 .25rem}
header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;margin:0 0 1rem}
header a.home{font-weight:600;color:#1b1f23;text-decoration:none}header .who{font-size:.9rem;color:#57606a}
form.inline{display:inline;margin:0}form.inline button{margin:0}
header button.link{background:none;border:0;padding:0;margin:0 0 0 .25rem;color:#0969da;font:inherit;text-decoration:underline}
button.primary{background:#1f883d;color:#fff;border:1px solid #1a7f37;border-radius:6px}
</style>
</head>
<body><header><a class="home" href="/">Gatehouse</a>${signedIn ? html`<span class="who">Signed in as <strong>${signedIn.name}</strong> <form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="${signedIn.signOutCsrf}"><button type="submit" class="link">Sign out</button></form></span>` : ''}</header><main>${body}</main></body>
</html>`.value;
}

/**
 * The Content-Security-Policy of every server-rendered page: no scripts, inline styles only,
 * forms post to the portal (and to `formTargets`, e.g. the client a consent redirects back
 * to: Chrome applies form-action to the redirect), never framed.
 */
export function pageCsp(formTargets: readonly string[] = []): string {
  return `default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action ${["'self'", ...formTargets].join(' ')}; frame-ancestors 'none'; base-uri 'none'`;
}
