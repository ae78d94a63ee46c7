import type https from 'node:https';

/** Options of `createHttpAppProxy`; durations in milliseconds. */
export interface HttpAppProxyOptions {
  /** The app's URL, e.g. `http://127.0.0.1:4000` or `https://intranet.corp/wiki` (its path is the base path). */
  upstreamUrl: string;
  /** The portal prefix the app is served under (`/apps/wiki`), or `''` for a host-routed app. */
  mountPath: string;
  /** How long to wait for the TCP (and TLS) connection: past it, 504 `gateway_timeout`. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * How long the upstream may stay silent — before its response headers, or between body chunks
   * either way. Before the headers it is a 504; mid-body the connection is cut. Default 60 s.
   */
  responseTimeoutMs?: number;
  /** Append to incoming `X-Forwarded-*` instead of replacing them: only behind a proxy you run. Default false. */
  trustForwarded?: boolean;
  /** TLS options for an `https` upstream (e.g. a private CA). */
  tls?: Pick<https.AgentOptions, 'ca' | 'rejectUnauthorized' | 'servername'>;
}
