import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { routeOf } from '../http/metrics.js';
import type { Middleware } from '../http/middleware.js';
import { findContext } from '../http/request-context.js';

/**
 * The portal's spans, through the OpenTelemetry API. Until {@link startTracing} turned tracing on
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` set), every function here is a flag test and a direct call: no
 * span objects, no context switches, nothing on the hot path.
 */
let on = false;

/** Set by {@link startTracing} and its shutdown. */
export function setTracingOn(value: boolean): void {
  on = value;
}

export function tracingOn(): boolean {
  return on;
}

const tracer = () => trace.getTracer('gatehouse');

/** Runs `step` in a child span of the active one (a step of a request: bearer check, credential, upstream call…); a throw marks the span failed. */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  step: () => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  if (!on) return step();
  return tracer().startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await step();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * The server span of each request, continuing the caller's W3C trace context (`traceparent`).
 * Named by the route pattern once answered (`POST /mcp/:id`), never by the raw path or query.
 */
export const requestSpan: Middleware = (req, res, next) => {
  if (!on) return next();
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = tracer().startSpan(
    req.method ?? 'HTTP',
    {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': req.method ?? '', 'gatehouse.request_id': String(findContext(req)?.id ?? '') },
    },
    parent,
  );
  res.once('finish', () => {
    span.updateName(`${req.method} ${routeOf(req)}`);
    span.setAttribute('http.response.status_code', res.statusCode);
    const auth = findContext(req)?.auth;
    if (auth) span.setAttributes({ 'enduser.id': auth.person.id, 'gatehouse.client_id': auth.clientId });
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  context.with(trace.setSpan(parent, span), next);
};

/** The active span's W3C trace context as headers for an upstream request (`{}` when tracing is off). */
export function activeTraceHeaders(): Record<string, string> {
  if (!on) return {};
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return headers;
}
