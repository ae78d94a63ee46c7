/**
 * Every cookie the portal sets, by purpose: the one list that keeps them between the browser and
 * the portal. The HTTP-app proxy strips these names from requests to apps and refuses them in
 * apps' `Set-Cookie` (plain and WebSocket answers), so an app can neither read a person's portal
 * cookies nor plant one (session fixation, RFC 6265bis §8.6, cookie tossing).
 *
 * Under https the names carry the `__Host-` prefix (RFC 6265bis §4.1.3.2: Secure, host-only,
 * `Path=/`); over plain http, where a browser refuses such a cookie, the plain name is used.
 * A new cookie of the portal's belongs here, or apps will see it.
 */
export const PORTAL_COOKIES = {
  /** The person's signed-in session, on the portal host and on each host-routed app's host. */
  session: { secure: '__Host-gatehouse', plain: 'gatehouse_session' },
  /** The sign-in form's CSRF nonce. */
  loginCsrf: { secure: '__Host-gatehouse-login', plain: 'gatehouse_login' },
  /** Ties an IdP sign-in to the browser that started it (login CSRF, RFC 6749 §10.12). */
  idpBinding: { secure: '__Host-gatehouse-idp', plain: 'gatehouse_idp' },
  /** Ties a host-routed app's sign-in hand-off to the browser that started it, on the app's host. */
  appHandOff: { secure: '__Host-gatehouse-handoff', plain: 'gatehouse_handoff' },
} as const;

export type PortalCookie = keyof typeof PORTAL_COOKIES;

/** The name of one of the portal's cookies: `__Host-…` when the issuer is https, else the plain name. */
export function portalCookieName(cookie: PortalCookie, secure: boolean): string {
  return secure ? PORTAL_COOKIES[cookie].secure : PORTAL_COOKIES[cookie].plain;
}

/** Every name the portal's cookies may have, both variants: the proxy keeps all of them from apps whatever the issuer's scheme. */
export const PORTAL_COOKIE_NAMES: readonly string[] = Object.values(PORTAL_COOKIES).flatMap(({ secure, plain }) => [secure, plain]);
