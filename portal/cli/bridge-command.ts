import type { Readable, Writable } from 'node:stream';
import { StreamableHTTPClientTransport, type AuthProvider } from '@modelcontextprotocol/client';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { parseCommandArgs, UsageError } from './args.js';
import { credentialsPath, readCredentials } from './credentials-file.js';
import type { CliIo } from './io.js';
import { discoverTarget } from './resource-discovery.js';
import { accessTokenFor, cachedTargetFor } from './sign-in.js';

export const BRIDGE_USAGE = `usage: gatehouse bridge URL [--browser]

  A stdio MCP server that relays every message to the Streamable HTTP MCP endpoint at URL (a
  portal's /mcp or /mcp/{id}), as you, for MCP clients that only start local servers. It signs
  you in first if no token is cached (the device flow on stderr; --browser for a browser), and
  refreshes the token as it expires. Configure it as the command: gatehouse bridge URL.
`;

/** The JSON-RPC error code of a request the relay could not deliver (the MCP transport family, -32000). */
const RELAY_FAILED = -32000;

/**
 * `gatehouse bridge`: relays JSON-RPC messages between stdin/stdout (the MCP SDK's stdio server
 * transport) and the endpoint (its Streamable HTTP client transport), unchanged: the session,
 * protocol version and streams are the client's and the endpoint's own. Resolves when stdin ends.
 */
export async function bridgeCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, { browser: { type: 'boolean' } });
  const [address, ...extra] = args.positional;
  if (!address || extra.length) throw new UsageError('give the URL of one MCP endpoint');
  const url = new URL(address);
  const target = cachedTargetFor(await readCredentials(credentialsPath(io.env)), url) ?? (await discoverTarget(url));
  const signIn = { io, browser: args.values.browser === true };
  // Signed in before the first message, so that a device code prompt never races the client's requests.
  let current = await accessTokenFor(target, signIn);
  const auth: AuthProvider = {
    token: async () => (current = await accessTokenFor(target, signIn)),
    onUnauthorized: async () => {
      current = await accessTokenFor(target, { ...signIn, stale: current });
    },
  };

  const remote = new StreamableHTTPClientTransport(url, { authProvider: auth });
  const local = new StdioServerTransport(io.stdin as Readable, io.stdout as Writable);
  const closed = new Promise<void>((resolve) => {
    local.onclose = resolve;
  });
  local.onmessage = (message) => {
    remote.send(message).catch(async (error: Error) => {
      io.stderr.write(`gatehouse bridge: ${error.message}\n`);
      if ('method' in message && 'id' in message)
        await local.send({
          jsonrpc: '2.0',
          id: message.id,
          error: { code: RELAY_FAILED, message: `the bridge could not reach ${url.href}: ${error.message}` },
        });
    });
  };
  remote.onmessage = (message) => {
    // The negotiated version goes on every later request as MCP-Protocol-Version, as the SDK's own client does.
    const version = 'result' in message ? (message.result as { protocolVersion?: unknown }).protocolVersion : undefined;
    if (typeof version === 'string') remote.setProtocolVersion(version);
    void local.send(message);
  };
  remote.onerror = (error) => io.stderr.write(`gatehouse bridge: ${error.message}\n`);
  await remote.start();
  await local.start();
  await closed;
  await remote.terminateSession().catch(() => undefined);
  await remote.close();
  return 0;
}
