import { decodeJwt } from 'jose';
import { CliError, parseCommandArgs, UsageError } from './args.js';
import { credentialsPath, readCredentials, writeCredentials } from './credentials-file.js';
import type { CliIo } from './io.js';
import { describe, discoverAuthorizationServer, revokeToken } from './oauth-client.js';
import { discoverTarget } from './resource-discovery.js';
import { accessTokenFor } from './sign-in.js';

export const LOGIN_USAGE = `usage: gatehouse login [URL] [--browser] [--admin | --resource URL]
       gatehouse logout [URL]

  login    signs you in to the portal at URL (default: GATEHOUSE_URL, else the portal you last
           signed in to) with the device flow: open the address shown, enter the code, approve.
           --browser signs in through a browser on this machine instead (a loopback redirect).
           The tokens are for the portal's /mcp (what "gatehouse bridge" uses); --admin for its
           admin API, --resource for any other resource it serves. They are kept, per issuer, in
           $XDG_CONFIG_HOME/gatehouse/credentials.json (~/.config/… by default), mode 0600.
  logout   revokes the tokens of that portal (RFC 7009) and forgets them.
`;

/** `gatehouse login` and `gatehouse logout`. */
export async function loginCommand(verb: 'login' | 'logout', argv: readonly string[], io: CliIo): Promise<number> {
  const path = credentialsPath(io.env);
  if (verb === 'logout') return logout(parseCommandArgs(argv, {}).positional[0], path, io);
  const args = parseCommandArgs(argv, { browser: { type: 'boolean' }, admin: { type: 'boolean' }, resource: { type: 'string' } });
  if (args.positional.length > 1) throw new UsageError('give one portal URL');
  const resourceFlag = args.values.resource;
  if (resourceFlag && args.values.admin) throw new UsageError('give --admin or --resource, not both');
  const base = portalUrl(args.positional[0] ?? io.env.GATEHOUSE_URL ?? (await readCredentials(path)).default_issuer);
  const target = await discoverTarget(new URL(resourceFlag ?? `${base}/${args.values.admin ? 'admin' : 'mcp'}`));
  const token = await accessTokenFor(target, { io, browser: args.values.browser === true, fresh: true });
  const credentials = await readCredentials(path);
  await writeCredentials(path, { ...credentials, default_issuer: target.issuer });
  io.stdout.write(`signed in to ${target.issuer}${whom(token)} for ${target.resource}\n`);
  return 0;
}

/** Revokes and forgets every token of the issuer `url` names (or the default one); the file keeps the others. */
async function logout(url: string | undefined, path: string, io: CliIo): Promise<number> {
  const credentials = await readCredentials(path);
  const issuer = url
    ? Object.keys(credentials.issuers).find((known) => known === portalUrl(url) || new URL(known).origin === new URL(portalUrl(url)).origin)
    : credentials.default_issuer;
  const entry = issuer ? credentials.issuers[issuer] : undefined;
  if (!issuer || !entry) {
    io.stdout.write(`not signed in to ${url ?? 'any portal'}\n`);
    return 0;
  }
  let revoked = 0;
  try {
    const as = await discoverAuthorizationServer(issuer);
    // Revoking either token of a grant ends it at the portal; other servers may need both.
    for (const tokens of Object.values(entry.tokens)) {
      for (const token of [tokens.refresh_token, tokens.access_token])
        if (token && (await revokeToken(as, entry.client_id, token))) revoked++;
    }
  } catch (error) {
    io.stderr.write(`gatehouse logout: could not revoke every token at ${issuer} (${describe(error)}); forgetting them anyway\n`);
  }
  delete credentials.issuers[issuer];
  if (credentials.default_issuer === issuer) delete credentials.default_issuer;
  await writeCredentials(path, credentials);
  io.stdout.write(`signed out of ${issuer}${revoked ? '' : ' (nothing to revoke there)'}\n`);
  return 0;
}

/** A portal URL without a trailing slash; a missing one is a usage error. */
function portalUrl(url: string | undefined): string {
  if (!url) throw new UsageError('give the portal URL (or set GATEHOUSE_URL)');
  if (!/^https?:\/\//.test(url)) throw new CliError(`${url} is not an http(s) URL`, 2);
  return url.replace(/\/+$/, '');
}

/** " as alice@example.com" when the token is a JWT that says whom it acts for (display only: the portal verifies it). */
function whom(token: string): string {
  try {
    const claims = decodeJwt(token);
    const name = (claims.email as string | undefined) ?? claims.sub;
    return name ? ` as ${name}` : '';
  } catch {
    return '';
  }
}
