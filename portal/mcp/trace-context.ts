import type { IncomingMessage } from 'node:http';
import { SpanKind } from '@opentelemetry/api';
import { activeTraceHeaders, inSpan, tracingOn } from '../tracing/spans.js';

/** W3C Trace Context `traceparent`: version, trace id, parent id, flags. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** W3C Trace Context allows 32 list members; a longer `tracestate` is dropped rather than cut. */
const MAX_TRACESTATE_LENGTH = 512;

/** The agent's trace context (W3C Trace Context; MCP carries it in `_meta` as well, SEP-414). */
export interface TraceContext {
  traceparent?: string;
  tracestate?: string;
}

/**
 * The trace context to pass upstream: the portal's own span while tracing is on (the agent's
 * trace continues through it), otherwise the agent's HTTP request's; a malformed one is not passed on.
 */
export function traceContextOf(req: IncomingMessage): TraceContext {
  if (tracingOn()) return activeTraceHeaders();
  const traceparent = req.headers.traceparent;
  if (typeof traceparent !== 'string' || !TRACEPARENT.test(traceparent)) return {};
  const tracestate = req.headers.tracestate;
  return typeof tracestate === 'string' && tracestate.length <= MAX_TRACESTATE_LENGTH ? { traceparent, tracestate } : { traceparent };
}

/**
 * Request params for the upstream with the agent's trace context in `_meta`, where the agent
 * did not put one there itself (its `_meta` wins over its HTTP headers).
 */
export function withTraceContext<P extends { _meta?: Record<string, unknown> }>(params: P, trace: TraceContext): P {
  if (!trace.traceparent || typeof params._meta?.traceparent === 'string') return params;
  return { ...params, _meta: { ...trace, ...params._meta } };
}

/** A request to an upstream on the SDK path, in an `upstream call` span (the credential and `traceparent` are added inside it). */
export function upstreamCall<T>(upstreamId: string, target: string, call: () => Promise<T>): Promise<T> {
  return inSpan('upstream call', { 'gatehouse.upstream': upstreamId, 'gatehouse.target': target }, call, SpanKind.CLIENT);
}
