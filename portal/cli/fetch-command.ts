import { writeFile } from 'node:fs/promises';
import { extractWWWAuthenticateParams } from '@modelcontextprotocol/client';
import { CliError, parseCommandArgs, UsageError } from './args.js';
import { credentialsPath, readCredentials } from './credentials-file.js';
import type { CliIo } from './io.js';
import { discoverTarget } from './resource-discovery.js';
import { accessTokenFor, cachedTargetFor, type TokenTarget } from './sign-in.js';

export const FETCH_USAGE = `usage: gatehouse fetch URL [--markdown] [-o FILE] [--browser]

  Fetches a page that needs you signed in, as you: with the token cached for it, or, when the
  server answers 401 naming its resource metadata (RFC 9728), by finding its authorization
  server and signing you in (the device flow; --browser for a browser on this machine).
  Works with any server that follows RFC 9728, not only a Gatehouse portal.
  --markdown asks for Markdown (Accept: text/markdown); -o writes the body to FILE.
`;

/** `gatehouse fetch`: a protected page, as the person, for an agent's web-fetch tool. */
export async function fetchCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, {
    markdown: { type: 'boolean' },
    browser: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
  });
  const [address, ...extra] = args.positional;
  if (!address || extra.length) throw new UsageError('give one URL');
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new UsageError(`${address} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`${address} is not an http(s) URL`);
  const accept = args.values.markdown ? 'text/markdown' : '*/*';
  const signIn = { io, browser: args.values.browser === true };

  let target: TokenTarget | undefined = cachedTargetFor(await readCredentials(credentialsPath(io.env)), url);
  let token = target ? await accessTokenFor(target, signIn) : undefined;
  let res = await get(url, accept, token);
  if (res.status === 401) {
    const challenge = extractWWWAuthenticateParams(res);
    if (!challenge.resourceMetadataUrl)
      throw new CliError(`${url.href} answered 401 without naming its resource metadata (RFC 9728): cannot sign in for it`, 3);
    await res.body?.cancel();
    target = await discoverTarget(url, { metadataUrl: challenge.resourceMetadataUrl, scope: challenge.scope });
    token = await accessTokenFor(target, { ...signIn, stale: token });
    res = await get(url, accept, token);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new CliError(`${url.href} answered ${res.status}`, res.status === 401 || res.status === 403 ? 3 : res.status === 404 ? 4 : 1);
  }
  const body = Buffer.from(await res.arrayBuffer());
  const output = args.values.output;
  if (output) await writeFile(output, body);
  else io.stdout.write(body);
  return 0;
}

function get(url: URL, accept: string, token: string | undefined): Promise<Response> {
  return fetch(url, {
    headers: { accept, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    signal: AbortSignal.timeout(60_000),
  }).catch((error: Error) => {
    throw new CliError(`cannot reach ${url.origin}: ${error.cause instanceof Error ? error.cause.message : error.message}`, 1);
  });
}
