import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import { setTracingOn, tracingOn } from './spans.js';

/** Tracing while it runs; `shutdown` exports what is buffered and turns it off. */
export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * Turns on OpenTelemetry tracing, exported over OTLP/HTTP, when the standard variables ask for it
 * (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`;
 * `OTEL_SDK_DISABLED=true` wins; `OTEL_SERVICE_NAME`, default `gatehouse`). Returns `undefined`
 * when they do not, and then costs nothing. One tracer provider per process: a second portal in
 * the same process shares the first one's.
 */
export function startTracing(env: NodeJS.ProcessEnv, options: { version: string; logger: Logger }): Tracing | undefined {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!url || env.OTEL_SDK_DISABLED?.toLowerCase() === 'true' || tracingOn()) return undefined;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'gatehouse', 'service.version': options.version }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  setTracingOn(true);
  options.logger.info({ otlpTracesEndpoint: url }, 'tracing on: spans are exported over OTLP');
  return {
    async shutdown() {
      setTracingOn(false);
      await provider.shutdown().catch((error: unknown) => options.logger.warn({ err: error }, 'could not export the last spans'));
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
