import type { IncomingMessage } from 'node:http';

/** W3C Trace Context `traceparent`: version, trace id, parent id, flags. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** W3C Trace Context allows 32 list members; a longer `tracestate` is dropped rather than cut. */
const MAX_TRACESTATE_LENGTH = 512;

/** The agent's trace context (W3C Trace Context; MCP carries it in `_meta` as well, SEP-414). */
export interface TraceContext {
  traceparent?: string;
  tracestate?: string;
}

/** The trace context of the agent's HTTP request; a malformed one is not passed on. */
export function traceContextOf(req: IncomingMessage): TraceContext {
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
