import type { LookupFunction } from 'node:net';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { GuardedFetchError, loggableUrl } from './fetch-errors.js';

/** One HTTP request, as the guarded fetcher sends it on one hop. */
export interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** How one hop connects: the DNS lookup that vets addresses (absent: any address), extra CAs. */
export interface HopTransport {
  lookup?: LookupFunction;
  ca?: string | string[];
}

/**
 * Sends one request on a connection of its own (no pooled socket: each connection is made
 * through `transport.lookup`, so the address connected to is the address checked) and resolves
 * with the answer once its headers arrive. `signal` aborting destroys the connection and rejects
 * with its reason.
 */
export function sendHop(hop: Hop, transport: HopTransport, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = hop.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers = hop.body ? { ...hop.headers, 'content-length': String(hop.body.length) } : hop.headers;
    const req = send(hop.url, { method: hop.method, headers, agent: false, lookup: transport.lookup, ca: transport.ca });
    const stop = () => {
      reject(signal.reason);
      req.destroy();
    };
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    req.on('response', (res) => {
      signal.removeEventListener('abort', stop);
      resolve(res);
    });
    req.on('error', (error) => {
      signal.removeEventListener('abort', stop);
      reject(
        error instanceof GuardedFetchError
          ? error
          : new GuardedFetchError('unreachable', `${loggableUrl(hop.url)}: ${(error as NodeJS.ErrnoException).code ?? error.message}`, {
              cause: error,
            }),
      );
    });
    req.end(hop.body);
  });
}

/**
 * Reads an answer's body, counting bytes as they stream: past `maxBytes` the connection is
 * destroyed and the read fails with `too_large` (a `Content-Length` is not trusted either way).
 * `signal` aborting destroys the connection and rejects with its reason.
 */
export function readBounded(res: IncomingMessage, url: URL, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', stop);
      if (error === undefined) return resolve(Buffer.concat(chunks));
      reject(error);
      res.destroy();
    };
    const stop = () => settle(signal.reason);
    if (signal.aborted) return stop();
    signal.addEventListener('abort', stop, { once: true });
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes)
        return settle(new GuardedFetchError('too_large', `${loggableUrl(url)}: the answer is larger than ${maxBytes} bytes`));
      chunks.push(chunk);
    });
    res.on('end', () => settle());
    res.on('error', (error) => settle(new GuardedFetchError('unreachable', `${loggableUrl(url)}: ${error.message}`, { cause: error })));
    res.on('close', () => {
      if (!res.complete) settle(new GuardedFetchError('unreachable', `${loggableUrl(url)}: the connection closed before the answer ended`));
    });
  });
}
