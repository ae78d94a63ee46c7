import { FormBrowser } from './browser-form-client.js';
import { hostRequest, type HostAnswer } from './host-request.js';

/**
 * One browser: its portal cookies (a FormBrowser on the portal's origin) and its cookies on the
 * host-routed app's host, kept apart as a browser keeps them per host.
 */
export class TwoHostBrowser {
  readonly portal: FormBrowser;
  readonly appCookies = new Map<string, string>();
  constructor(
    portalUrl: string,
    readonly appHost: string,
  ) {
    this.portal = new FormBrowser(portalUrl);
  }

  /** A page on the app's host, as a browser asks for one (HTML, its app-host cookies). */
  async app(path: string): Promise<HostAnswer> {
    const cookie = this.appCookieHeader();
    const answer = await hostRequest(`${this.portal.origin}${path}`, this.appHost, { accept: 'text/html', ...(cookie ? { cookie } : {}) });
    for (const setCookie of answer.headers['set-cookie'] ?? []) {
      const [pair = ''] = setCookie.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      if (/max-age=0|expires=Thu, 01 Jan 1970/i.test(setCookie)) this.appCookies.delete(name);
      else this.appCookies.set(name, pair.slice(pair.indexOf('=') + 1));
    }
    return answer;
  }

  /**
   * The hand-off up to the ticket: the app host sends the browser to the portal, the person signs
   * in there, and the portal answers the page that moves on to the app host. Returns that URL's path.
   */
  async ticketPath(page: string, person: { username: string; password: string }): Promise<string> {
    const start = await this.app(page);
    if (start.status !== 303 || !start.headers.location)
      throw new Error(`expected the app host to send the browser to sign in, got ${start.status}`);
    let res = await this.portal.follow(start.headers.location);
    if (new URL(res.url).pathname === '/login') res = await this.portal.signIn(res, person);
    const html = await res.text();
    const url = /content="0;url=([^"]+)"/.exec(html)?.[1];
    if (res.status !== 200 || !url)
      throw new Error(`expected the page that moves on to the app host, got ${res.status}: ${html.slice(0, 300)}`);
    const ticketUrl = new URL(url.replace(/&amp;/g, '&'));
    if (ticketUrl.host !== this.appHost) throw new Error(`the hand-off went to ${ticketUrl.host}, not ${this.appHost}`);
    return `${ticketUrl.pathname}${ticketUrl.search}`;
  }

  /** Signs in on the app's host through the whole hand-off; resolves once the app host has a session. */
  async signInOnApp(page: string, person: { username: string; password: string }): Promise<void> {
    const redeemed = await this.app(await this.ticketPath(page, person));
    if (redeemed.status !== 303 || !this.appCookies.has('gatehouse_session'))
      throw new Error(`the ticket was not redeemed: ${redeemed.status} ${redeemed.body.slice(0, 300)}`);
  }

  /** The `Cookie` header this browser sends to the app's host. */
  appCookieHeader(): string {
    return [...this.appCookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}
