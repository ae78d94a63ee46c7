import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { ClientCapabilities, Implementation, Notification } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { Logger } from 'pino';
import type { McpUpstreamOptions, UpstreamEra, UpstreamRequestHandler } from './mcp-upstream-types.js';
import { UpstreamClient } from './upstream-client.js';
import { withDeadline } from './connect-deadline.js';
import { UpstreamCrashedError, UpstreamError, UpstreamTimeoutError, UpstreamUnavailableError } from './upstream-errors.js';

/** Longest stderr line logged as is; a child printing a megabyte per line must not flood the log. */
const MAX_STDERR_LINE = 2000;
/** stderr lines kept to explain a process that dies during start-up. */
const STDERR_TAIL = 5;

/** One running stdio MCP server, initialized, serving one owner. */
export interface StdioProcess {
  readonly ownerKey: string;
  readonly client: UpstreamClient;
  readonly pid: number | undefined;
  /** Set once the process exited without being asked to. */
  readonly failure: UpstreamError | undefined;
  /** Ends the process (stdin closed, then SIGTERM, then SIGKILL: the SDK's escalation). */
  stop(): Promise<void>;
}

/** What {@link startStdioProcess} needs. */
export interface StartStdioProcessOptions {
  upstream: McpUpstreamOptions;
  ownerKey: string;
  logger: Logger;
  clientCapabilities?: ClientCapabilities;
  clientInfo?: Implementation;
  protocolVersion?: string;
  /** The upstream's era as remembered: no `server/discover` probe (a sibling process) then. */
  era?: UpstreamEra;
  /** The era the probe found, when there was one. */
  onEra?: (era: UpstreamEra) => void;
  onNotification: (notification: Notification) => void | Promise<void>;
  requestHandler: () => UpstreamRequestHandler | undefined;
  /** The process exited on its own after start-up. */
  onCrash: (error: UpstreamCrashedError) => void;
}

/**
 * Spawns the upstream's command for one owner and opens it within the connect timeout: MCP
 * 2026-07-28 where the upstream speaks it, else `initialize`. The child gets `PATH`, `HOME`, the configured `env` and the owner's `ownerEnv`
 * (the SDK alone passes only a handful of variables); its stderr goes to the logger line
 * by line instead of the portal's own stderr.
 */
export async function startStdioProcess(options: StartStdioProcessOptions): Promise<StdioProcess> {
  const { upstream, ownerKey } = options;
  const [command, ...args] = upstream.command ?? [];
  if (!command) throw new TypeError(`upstream "${upstream.id}": command is empty`);
  const transport = new StdioClientTransport({
    command,
    args,
    env: childEnvironment(upstream, ownerKey),
    cwd: upstream.cwd,
    stderr: 'pipe',
  });
  let logger = options.logger.child({ upstream: upstream.id, ownerKey });
  const stderrTail: string[] = [];
  if (transport.stderr) {
    createInterface({ input: transport.stderr as Readable, crlfDelay: Infinity }).on('line', (line) => {
      const text = line.length > MAX_STDERR_LINE ? `${line.slice(0, MAX_STDERR_LINE)}…` : line;
      stderrTail.push(text);
      if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
      logger.info({ stream: 'stderr' }, text);
    });
  }

  let failure: UpstreamError | undefined;
  let stopping = false;
  let started = false;
  const client = new UpstreamClient({
    upstreamId: upstream.id,
    callTimeoutMs: upstream.callTimeoutMs,
    clientInfo: options.clientInfo,
    capabilities: options.clientCapabilities,
    protocolVersion: options.protocolVersion,
    negotiate: true,
    onNotification: options.onNotification,
    requestHandler: options.requestHandler,
    knownFailure: () => failure,
  });
  client.onerror = (error) => logger.debug({ err: error }, 'upstream stdio transport error');
  client.onclose = () => {
    if (stopping || !started) return;
    failure = new UpstreamCrashedError(upstream.id, { internal: `pid ${pid ?? '?'} exited; last stderr: ${stderrTail.join(' | ')}` });
    logger.warn({ pid, code: failure.code }, 'upstream process exited unexpectedly');
    options.onCrash(failure as UpstreamCrashedError);
  };

  let pid: number | undefined;
  try {
    // An unknown era is probed by the SDK on a sibling process (some stdio servers exit on a
    // request before `initialize`); the session's own process starts once the era is known.
    await withDeadline(
      client.connect(transport, { timeout: upstream.connectTimeoutMs, prior: options.era }),
      upstream.connectTimeoutMs,
      () => new UpstreamTimeoutError(upstream.id, upstream.connectTimeoutMs),
    );
    if (!options.era) {
      const discover = client.getDiscoverResult();
      options.onEra?.(discover ? { kind: 'modern', discover } : { kind: 'legacy' });
    }
  } catch (error) {
    stopping = true;
    await client.close().catch(() => {});
    if (error instanceof UpstreamTimeoutError)
      throw new UpstreamTimeoutError(upstream.id, upstream.connectTimeoutMs, {
        internal: `start-up timed out; last stderr: ${stderrTail.join(' | ')}`,
        cause: error,
      });
    const detail =
      error instanceof UpstreamError ? (error.internal ?? error.message) : error instanceof Error ? error.message : String(error);
    throw new UpstreamUnavailableError(upstream.id, {
      internal: `could not start ${command}: ${detail}; last stderr: ${stderrTail.join(' | ')}`,
      cause: error,
    });
  }
  pid = transport.pid ?? undefined;
  logger = logger.child({ pid });
  started = true;

  return {
    ownerKey,
    client,
    pid,
    get failure() {
      return failure;
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      await client.close().catch((error: unknown) => logger.debug({ err: error }, 'stopping upstream process failed'));
    },
  };
}

/** `PATH` and `HOME` from the portal, then the configured variables, then the owner's. */
function childEnvironment(upstream: McpUpstreamOptions, ownerKey: string): Record<string, string> {
  const inherited: Record<string, string> = {};
  for (const name of ['PATH', 'HOME']) {
    const value = process.env[name];
    if (value !== undefined) inherited[name] = value;
  }
  return { ...inherited, ...upstream.env, ...upstream.ownerEnv?.(ownerKey) };
}
