import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type FormBrowser, formFields } from './browser-form-client.js';
import { TestOAuthProvider } from './mcp-oauth-client.js';

/** What a person does in the browser: which IdP login to type, and what to answer at the portal's consent. */
export interface BrowserScript {
  /** The login to type at an `oidc-provider` dev login form (any password works). */
  idpLogin: string;
  /** Click "Cancel" at the IdP instead of signing in. */
  cancelAtIdp?: boolean;
  /** Pick this IdP on the portal's sign-in page (when it shows a chooser). */
  chooseIdp?: string;
  decision?: 'allow' | 'deny';
}

/** The last response of a browser run: a page (status, HTML), or a redirect out of the known origins (`leftTo`). */
export interface BrowserOutcome {
  status: number;
  page: string;
  leftTo?: URL;
  /** Every URL the browser visited, in order. */
  visited: string[];
}

/**
 * Drives a person's browser from `url` through the portal and `oidc-provider` IdPs: follows
 * redirects between the `origins` given, signs in at the IdP's dev login form, answers its
 * consent, picks an IdP on the portal's chooser, answers the portal's consent. Stops at a
 * redirect to any other origin (the agent's redirect URI) or at a page it has no script for.
 */
export async function runBrowser(browser: FormBrowser, url: string, origins: string[], script: BrowserScript): Promise<BrowserOutcome> {
  const visited: string[] = [];
  let res = await browser.get(url);
  for (let step = 0; step < 30; step++) {
    visited.push(url);
    const location = res.headers.get('location');
    if (location && res.status >= 300 && res.status < 400) {
      const next = new URL(location, url);
      if (!origins.includes(next.origin)) return { status: res.status, page: '', leftTo: next, visited };
      url = next.href;
      res = await browser.get(url);
      continue;
    }
    const page = await res.text();
    const form = /<form[^>]*action="([^"]+)"/.exec(page)?.[1]?.replace(/&amp;/g, '&');
    if (page.includes('name="prompt" value="login"') && form) {
      if (script.cancelAtIdp) {
        const abort = /href="([^"]*\/abort)"/.exec(page)?.[1];
        url = new URL(abort!, url).href;
        res = await browser.get(url);
      } else {
        url = new URL(form, url).href;
        res = await browser.post(url, { prompt: 'login', login: script.idpLogin, password: 'any' });
      }
    } else if (page.includes('name="prompt" value="consent"') && form) {
      url = new URL(form, url).href;
      res = await browser.post(url, { prompt: 'consent' });
    } else if (page.includes('document.forms[0].submit()') && form) {
      // A page that submits its own form (oidc-provider ending one account's session for another's sign-in): what a browser's script does.
      const fields = Object.fromEntries(
        [...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
      );
      url = new URL(form, url).href;
      res = await browser.post(url, fields);
    } else if (script.chooseIdp && page.includes(`href="/login/${script.chooseIdp}?`)) {
      const href = new RegExp(`href="(/login/${script.chooseIdp}\\?[^"]*)"`).exec(page)![1]!.replace(/&amp;/g, '&');
      url = new URL(href, url).href;
      res = await browser.get(url);
    } else if (page.includes('action="/consent"')) {
      url = new URL('/consent', url).href;
      res = await browser.post(url, { ...formFields(page), decision: script.decision ?? 'allow' });
    } else {
      return { status: res.status, page, visited };
    }
  }
  throw new Error(`browser did not settle; visited ${visited.join(' → ')}`);
}

/** An MCP SDK `OAuthClientProvider` whose "browser" signs in through an IdP (see {@link runBrowser}). */
export class IdpOAuthProvider extends TestOAuthProvider {
  constructor(
    portalUrl: string,
    readonly origins: string[],
    readonly script: BrowserScript,
  ) {
    super(portalUrl, { username: '', password: '' });
  }

  override async redirectToAuthorization(url: URL): Promise<void> {
    const outcome = await runBrowser(this.browser, url.href, this.origins, this.script);
    if (!outcome.leftTo)
      throw new Error(`authorization stopped at a ${outcome.status} page: ${outcome.page.replace(/<[^>]+>/g, ' ').slice(0, 300)}`);
    const error = outcome.leftTo.searchParams.get('error');
    if (error) throw new Error(`authorization failed: ${error}`);
    this.code = outcome.leftTo.searchParams.get('code') ?? undefined;
  }
}

/** An MCP SDK client authorized through an IdP sign-in, connected to `path` (default the aggregate). */
export async function connectIdpAgent(
  portalUrl: string,
  idpOrigins: string[],
  script: BrowserScript,
  options: { path?: string; prepare?: (browser: FormBrowser, origins: string[]) => Promise<unknown> } = {},
): Promise<{ client: Client; provider: IdpOAuthProvider }> {
  const endpoint = new URL(`${portalUrl}${options.path ?? '/mcp'}`);
  const provider = new IdpOAuthProvider(portalUrl, [portalUrl, ...idpOrigins], script);
  await options.prepare?.(provider.browser, provider.origins);
  const first = new StreamableHTTPClientTransport(endpoint, { authProvider: provider as OAuthClientProvider });
  let failure: unknown;
  await new Client({ name: 'agent', version: '1.0.0' }).connect(first).catch((error: unknown) => {
    failure = error;
  });
  if (!provider.code) throw new Error(`the authorization did not produce a code: ${String(failure)}`);
  await first.finishAuth(provider.code);
  const client = new Client({ name: 'agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(endpoint, { authProvider: provider }));
  return { client, provider };
}
