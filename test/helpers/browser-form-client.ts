/**
 * A person's browser, reduced to what the sign-in and consent pages need: a cookie jar,
 * manual redirects, and posting the forms the pages render (as a browser would, by field name).
 */
export class FormBrowser {
  readonly cookies = new Map<string, string>();

  constructor(readonly origin: string) {}

  async get(url: string): Promise<Response> {
    return this.#send(url, { method: 'GET' });
  }

  async post(url: string, fields: Record<string, string>): Promise<Response> {
    return this.#send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /**
   * Follows redirects that stay on the portal; stops at the first response that is not a
   * redirect to the portal, and returns it (a page, or a redirect to the client).
   */
  async follow(url: string, init?: { method: 'POST'; fields: Record<string, string> }): Promise<Response> {
    let res = init ? await this.post(url, init.fields) : await this.get(url);
    for (let hops = 0; hops < 10; hops++) {
      const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : await metaRefresh(res);
      if (!location) return res;
      const next = new URL(location, url);
      if (next.origin !== this.origin) return res;
      url = next.href;
      res = await this.get(url);
    }
    throw new Error('too many redirects');
  }

  /**
   * Runs an authorization from its `/authorize` URL: signs in when asked, then answers the
   * consent page. Resolves the final redirect URL back to the client.
   */
  async authorize(
    authorizeUrl: string,
    person: { username: string; password: string },
    decision: 'allow' | 'deny' = 'allow',
  ): Promise<URL> {
    let res = await this.follow(authorizeUrl);
    let page = res.status === 200 ? await res.text() : '';
    if (page.includes('action="/login"')) {
      res = await this.follow(`${this.origin}/login`, {
        method: 'POST',
        fields: { ...hiddenFields(page), username: person.username, password: person.password },
      });
      page = res.status === 200 ? await res.text() : '';
    }
    if (page.includes('action="/consent"')) {
      res = await this.follow(`${this.origin}/consent`, { method: 'POST', fields: { ...formFields(page), decision } });
    }
    const location = res.headers.get('location');
    if (!location) throw new Error(`expected a redirect to the client, got ${res.status}: ${page.slice(0, 300)}`);
    return new URL(location);
  }

  /** Posts the sign-in form of a login page response, and follows where it leads. */
  async signIn(loginPage: Response, person: { username: string; password: string }): Promise<Response> {
    const fields = hiddenFields(await loginPage.text());
    return this.follow(`${this.origin}/login`, {
      method: 'POST',
      fields: { ...fields, username: person.username, password: person.password },
    });
  }

  async #send(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    headers.set('accept', 'text/html');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(cookie) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    Object.defineProperty(res, 'url', { value: url });
    return res;
  }
}

/** What a browser submits of a page's form without the person touching it: its hidden inputs and the checkboxes checked by default. */
export function formFields(page: string): Record<string, string> {
  const fields = hiddenFields(page);
  for (const match of page.matchAll(/<input type="checkbox"[^>]* name="([^"]+)" value="([^"]*)" checked[ >]/g))
    fields[match[1]!] = match[2]!;
  return fields;
}

/**
 * Where a page moves the browser on by itself (`<meta http-equiv="refresh" content="0;url=…">`, the
 * portal's continue page), as a browser would follow it. The page stays readable (a clone is read).
 */
async function metaRefresh(res: Response): Promise<string | undefined> {
  if (res.status !== 200 || !res.headers.get('content-type')?.includes('text/html')) return undefined;
  const page = await res.clone().text();
  const match = /<meta http-equiv="refresh" content="0;url=([^"]*)">/.exec(page);
  if (!match) return undefined;
  return match[1]!
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');
}

/** The hidden inputs of the first form on a page. */
export function hiddenFields(page: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[match[1]!] = match[2]!
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  }
  return fields;
}
