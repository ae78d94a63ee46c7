/**
 * The only checks that read an error's message. Each matches one throw in a library that gives
 * that failure no class or code of its own; everything else is told apart by `instanceof` and
 * `code` (see `toUpstreamError`). When the library gives it a type, the check goes.
 */

/**
 * The MCP SDK's `Protocol` rejects a request on a client whose transport has gone away with a
 * plain `Error('Not connected')` (its transports throw `SdkError` `NotConnected`, matched by code).
 * The SDK forces this message check.
 */
export function isSdkNotConnectedMessage(error: unknown): boolean {
  return error instanceof Error && error.message === 'Not connected';
}

/**
 * The MCP SDK's legacy SSE transport reports a refused POST as a plain `Error` whose message
 * holds the status ("Error POSTing to endpoint (HTTP 404): …"). The SDK forces this message check.
 */
export function legacySsePostStatus(error: unknown): number | undefined {
  const match = error instanceof Error ? /^Error POSTing to endpoint \(HTTP (\d{3})\)/.exec(error.message) : null;
  return match ? Number(match[1]) : undefined;
}

/**
 * Node's `fetch` (undici) rejects on any network failure with `TypeError('fetch failed', { cause })`;
 * TLS failures leave no network code on the cause, and a `TypeError` alone is also what a bad
 * argument throws. Node forces this message check.
 */
export function isFetchFailedTypeError(error: unknown): boolean {
  return error instanceof TypeError && error.message === 'fetch failed';
}
