import http, { type IncomingMessage, type RequestOptions } from 'node:http';
import https from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { keepAliveAgents } from './node-fetch.js';
import { UpstreamProtocolError, UpstreamUnavailableError } from './upstream-errors.js';

/**
 * Message-level HTTP exchanges with a Streamable HTTP MCP upstream, for the portal's transparent
 * endpoint: one upstream HTTP request per agent HTTP request, its answer read as JSON-RPC
 * messages (one JSON body, or SSE events) so that the portal can look at each on its way through.
 * No SDK client in between: the upstream's session, event ids and server→client requests pass
 * through as they are, which is what makes the relay cheap and resumable.
 */

export interface UpstreamRequestInit {
  method: 'GET' | 'POST' | 'DELETE';
  headers: Record<string, string>;
  body?: string;
  /** Aborting it ends the exchange, the response body included. */
  signal: AbortSignal;
}

/**
 * Sends one HTTP request on the process's keep-alive agents; resolves with the response, whose
 * body the caller reads or drains. Socket failures reject with `UpstreamUnavailableError`, an
 * aborted `signal` with its reason.
 */
export function sendUpstream(upstreamId: string, url: string, init: UpstreamRequestInit): Promise<IncomingMessage> {
  const target = targetOf(url);
  const agent = keepAliveAgents[target.protocol as keyof typeof keepAliveAgents];
  if (!agent) return Promise.reject(new UpstreamUnavailableError(upstreamId, { internal: `unsupported protocol ${target.protocol}` }));
  const { signal } = init;
  if (signal.aborted) return Promise.reject(signal.reason);
  const headers = init.body === undefined ? init.headers : { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) };
  return new Promise((resolve, reject) => {
    const request = (target.protocol === 'https:' ? https : http).request(
      { ...target, method: init.method, headers, agent, signal },
      resolve,
    );
    request.on('error', (error) =>
      reject(signal.aborted ? signal.reason : new UpstreamUnavailableError(upstreamId, { internal: error.message, cause: error })),
    );
    request.end(init.body);
  });
}

/** Upstream URLs are few and fixed; each is parsed once, not on every request. */
const targets = new Map<string, RequestOptions>();

function targetOf(url: string): RequestOptions {
  let target = targets.get(url);
  if (!target) {
    target = urlToHttpOptions(new URL(url));
    if (targets.size >= 1_000) targets.clear();
    targets.set(url, target);
  }
  return target;
}

/** The whole body as text, refused beyond `maxBytes`: an upstream must not exhaust the portal's memory. */
export function readBody(upstreamId: string, response: IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<string> {
  destroyOnAbort(response, signal);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      response.destroy();
      reject(new UpstreamProtocolError(upstreamId, { internal: `response body larger than ${maxBytes} bytes` }));
    });
    response.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.once('error', (error) => reject(endedEarly(upstreamId, signal, error)));
    response.once('close', () => {
      if (!response.complete) reject(endedEarly(upstreamId, signal));
    });
  });
}

/** One server-sent event, with the `retry` field that came with it. */
export interface SseEvent extends EventSourceMessage {
  retry?: number;
}

/**
 * Reads an SSE body event by event. `onEvent` may return a promise (the agent's connection is
 * full): reading pauses until it settles; it may throw to end the stream with that error. Resolves when the upstream ends the stream; rejects when
 * it breaks off, when an event exceeds `maxEventBytes`, or with the signal's reason once aborted.
 */
export function readSse(
  upstreamId: string,
  response: IncomingMessage,
  options: { maxEventBytes: number; signal: AbortSignal },
  onEvent: (event: SseEvent) => void | Promise<void>,
): Promise<void> {
  const { signal } = options;
  destroyOnAbort(response, signal);
  return new Promise((resolve, reject) => {
    let retry: number | undefined;
    let waiting: Promise<void> | undefined;
    let failed = false;
    const fail = (error: unknown) => {
      failed = true;
      response.destroy();
      reject(error);
    };
    const parser = createParser({
      maxBufferSize: options.maxEventBytes,
      onRetry: (value) => (retry = value),
      onEvent: (event) => {
        if (failed) return;
        try {
          const delivered = onEvent(retry === undefined ? event : { ...event, retry });
          if (delivered) waiting = delivered;
        } catch (error) {
          // `onEvent` refused the event (not a message at all): the stream is over.
          fail(error);
        }
        retry = undefined;
      },
      onError: (error) => fail(new UpstreamProtocolError(upstreamId, { internal: `SSE: ${error.message}`, cause: error })),
    });
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      parser.feed(chunk);
      if (!waiting) return;
      response.pause();
      waiting.then(() => response.resume(), fail);
      waiting = undefined;
    });
    response.once('end', () => {
      // A `retry` with no event after it still tells the agent how long to wait before resuming.
      if (retry !== undefined) void onEvent({ id: undefined, event: undefined, data: '', retry });
      resolve();
    });
    response.once('error', (error) => reject(endedEarly(upstreamId, signal, error)));
    response.once('close', () => {
      if (!response.complete) reject(endedEarly(upstreamId, signal));
    });
  });
}

/** An event as SSE text, fields in the order the upstream's own would have them. */
export function formatSseEvent(event: SseEvent): string {
  let text = '';
  if (event.id !== undefined) text += `id: ${event.id}\n`;
  if (event.event !== undefined) text += `event: ${event.event}\n`;
  if (event.retry !== undefined) text += `retry: ${event.retry}\n`;
  for (const line of event.data.split('\n')) text += `data: ${line}\n`;
  return `${text}\n`;
}

/** Stops reading when the exchange is abandoned (the agent left, the call timed out). */
function destroyOnAbort(response: IncomingMessage, signal: AbortSignal): void {
  if (signal.aborted) return void response.destroy();
  const onAbort = () => response.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  response.once('close', () => signal.removeEventListener('abort', onAbort));
}

function endedEarly(upstreamId: string, signal: AbortSignal, error?: Error): unknown {
  // An abort (the agent left, the call timed out) carries its own reason.
  if (signal.aborted) return signal.reason;
  return new UpstreamUnavailableError(upstreamId, { internal: `response ended early${error ? `: ${error.message}` : ''}`, cause: error });
}
