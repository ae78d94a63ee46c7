import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';

/** A listening HTTP server that can shut down gracefully. */
export interface RunningServer {
  server: Server;
  /** `http://host:port` as bound (port 0 resolved). */
  url: string;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `graceMs`,
   * then closes whatever is still open (long-lived streams included).
   */
  close(graceMs: number): Promise<void>;
}

/**
 * How long a client may take and how many may be connected (`http.*` in the config): a client
 * that holds a connection without using it (slowloris, an idle socket) is cut off, and a flood
 * of connections cannot exhaust the process's file descriptors.
 */
export interface ConnectionLimits {
  /** A request's head must have arrived whole this long after it began (or after the connection opened). */
  headersTimeoutMs: number;
  /** A whole request, head and body, must have arrived within this. */
  requestTimeoutMs: number;
  /** A kept-alive connection waiting for its next request is closed after this. */
  keepAliveTimeoutMs: number;
  /**
   * A connection with no traffic either way for this long is closed. Event streams stay open:
   * they send keep-alive comments more often. WebSocket tunnels are exempt once upgraded.
   */
  idleTimeoutMs: number;
  /** Connections past this many are closed as they arrive, unanswered. */
  maxConnections: number;
}

/** How often node checks `headersTimeout` and `requestTimeout` (its default, 30 s, would let a slow head linger that much longer). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

export function listen(
  handler: RequestListener,
  options: { host: string; port: number; limits?: ConnectionLimits },
): Promise<RunningServer> {
  const server = createServer(
    { requestTimeout: 120_000, headersTimeout: 30_000, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
    handler,
  );
  if (options.limits) limitConnections(server, options.limits);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const { address, port } = server.address() as AddressInfo;
      const host = address.includes(':') ? `[${address}]` : address;
      resolve({ server, url: `http://${host}:${port}`, close: (graceMs) => closeGracefully(server, graceMs) });
    });
  });
}

/**
 * Applies `limits` to a server (each applies to connections accepted from then on). An upgraded
 * connection (WebSocket) leaves node's HTTP handling: the idle timeout no longer closes it.
 */
export function limitConnections(server: Server, limits: ConnectionLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.timeout = limits.idleTimeoutMs;
  server.maxConnections = limits.maxConnections;
}

/**
 * A listener for the server's `'drop'` event (a connection refused at `maxConnections`): warns at
 * once, then at most once per `windowMs` with how many more were refused, so that a flood of
 * connections does not become a flood of log lines.
 */
export function warnOnRefusedConnections(logger: Logger, maxConnections: number, windowMs = 60_000): () => void {
  let quietUntil = 0;
  let refused = 0;
  return () => {
    const now = Date.now();
    if (now >= quietUntil) {
      logger.warn({ maxConnections, refusedSinceLastWarning: refused }, 'connection refused: http.max_connections connections are open');
      quietUntil = now + windowMs;
      refused = 0;
    }
    refused++;
  };
}

function closeGracefully(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs).unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
