/**
 * Whether a cookie pair (`name=value`: one of a `Cookie` header's, or the start of a `Set-Cookie`)
 * is one of the `listed` cookies, as a browser and the portal would see it:
 * - names compare without case: browsers match the `__Host-` prefix case-insensitively
 *   (RFC 6265bis §4.1.3), and an app has no use for a name that differs from the portal's only in case;
 * - a nameless pair (`=gatehouse_session=x`, or one without `=`) counts by what precedes the first
 *   `=` of its value: a browser sends a nameless cookie as its bare value (RFC 6265bis §5.7), which
 *   reads as a cookie of that name.
 */
export function isListedCookie(pair: string, listed: readonly string[]): boolean {
  const eq = pair.indexOf('=');
  let name = eq === -1 ? '' : pair.slice(0, eq).trim();
  if (!name) {
    const value = eq === -1 ? pair : pair.slice(eq + 1);
    const inner = value.indexOf('=');
    name = (inner === -1 ? value : value.slice(0, inner)).trim();
  }
  const wanted = name.toLowerCase();
  return listed.some((listedName) => listedName.toLowerCase() === wanted);
}
