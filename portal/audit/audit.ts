import { hostname } from 'node:os';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { randomToken } from '../crypto/hash.js';
import type { Store } from '../store/store.js';
import { AuditChain, auditChainKey } from './chain.js';
import type { AuditEvent, AuditInput } from './event.js';
import { redactAndTrim } from './redact.js';
import { fileSink, lineSink, streamSink, type AuditSink } from './sinks.js';

/**
 * The one audit service. Every decision and action is recorded through
 * {@link Audit.record}: the event is stamped and sealed into this process's hash chain at once
 * (synchronously, so the chain follows the order of recording), then written to every sink.
 *
 * Other capabilities record their own events the same way, e.g. when a person connects an
 * upstream: `auditRequest(req, { event: 'upstream_connected', outcome: 'success', upstream: id })`
 * inside a request, or `audit.record({...})` outside one.
 */
export interface Audit {
  /** Seals and writes an event; returns it at once. Sink failures are logged, never thrown at the caller. */
  record(input: AuditInput, options?: RecordOptions): AuditEvent;
  /** Resolves when every event recorded so far has reached every sink (or failed to). */
  flush(): Promise<void>;
  /** Flushes and closes the sinks. */
  close(): Promise<void>;
  /** This process's chain id. */
  readonly chainId: string;
  /** The key events are hashed with (derived from `GATEHOUSE_SECRET`). */
  readonly key: Buffer;
}

export interface RecordOptions {
  /** Where the operational log line goes (a request's logger, `contextOf(req).log`); default the portal logger. */
  log?: Logger;
  /** The log line's message; default the event name. */
  message?: string;
}

export interface AuditOptions {
  store: Store;
  secret: string;
  config: Config['audit'];
  logger: Logger;
  /** Where `audit.stdout` writes (default `process.stdout`). */
  stdout?: Writable;
  /** Sees every event as it is recorded (the metrics count upstream calls from them). */
  observe?: (event: AuditEvent) => void;
}

export function createAudit(options: AuditOptions): Audit {
  const { config, logger } = options;
  const key = auditChainKey(options.secret);
  // One chain per process run: no cross-process coordination on the hot path (see README "Audit log").
  const chain = new AuditChain(key, `${hostname()}:${process.pid}:${randomToken(6)}`);
  const sinks: AuditSink[] = [streamSink(options.store, config.streamMaxLength)];
  if (config.stdout) sinks.push(lineSink(options.stdout ?? process.stdout));
  if (config.file) sinks.push(fileSink(config.file));
  // Sink writes in flight, and who waits for there to be none (`flush`).
  let writing = 0;
  const waiting: Array<() => void> = [];
  const written = () => {
    writing -= 1;
    if (writing === 0) for (const resolve of waiting.splice(0)) resolve();
  };
  const drained = () => (writing === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve)));

  function toEvent(input: AuditInput) {
    const details = { ...input.details };
    if (input.arguments !== undefined && config.includeArguments) details.arguments = redactAndTrim(input.arguments, config);
    if (input.result !== undefined && config.includeResults) details.result = redactAndTrim(input.result, config);
    return chain.seal({
      v: 1,
      time: new Date().toISOString(),
      event: input.event,
      outcome: input.outcome,
      person: input.person?.id,
      person_name: input.person ? (input.person.name ?? input.person.email ?? input.person.username) : undefined,
      client_id: input.client?.id,
      client_name: input.client?.name,
      upstream: input.upstream,
      latency_ms: input.latencyMs === undefined ? undefined : Math.round(input.latencyMs * 1000) / 1000,
      request_id: input.requestId,
      source_ip: input.sourceIp,
      details: Object.keys(details).length ? details : undefined,
    });
  }

  return {
    chainId: chain.id,
    key,
    record(input, recordOptions = {}) {
      const { event, line } = toEvent(input);
      const log = recordOptions.log ?? logger;
      const level = event.outcome === 'error' ? 'warn' : 'info';
      if (log.isLevelEnabled(level)) {
        log[level](
          {
            event: event.event,
            outcome: event.outcome,
            person: event.person,
            clientId: event.client_id,
            upstream: event.upstream,
            ms: event.latency_ms,
            ...input.details,
          },
          recordOptions.message ?? event.event,
        );
      }
      for (const sink of sinks) {
        writing += 1;
        sink.write(line).then(written, (error: unknown) => {
          // The event is not lost from view: it goes to the log with the failure.
          logger.error({ err: error, sink: sink.name, audit: event }, 'audit event could not be written');
          written();
        });
      }
      options.observe?.(event);
      return event;
    },
    flush: drained,
    async close() {
      await drained();
      await Promise.allSettled(sinks.map((sink) => sink.close?.()));
    },
  };
}
