import type { Request } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Middleware } from './middleware.js';

declare module 'http' {
  interface IncomingMessage {
    /** The route label of a request served outside express (express's own requests are labelled by their matched route). */
    metricsRoute?: string;
  }
}

/** Prometheus metrics of one portal: a registry of its own, so several portals can share a process. */
export interface Metrics {
  registry: Registry;
  middleware: Middleware;
  /** Counts a tool call refused by `upstreams[].tools.limits`. */
  toolQuotaRefused(upstreamId: string, tool: string): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  const requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const quotaRefusals = new Counter({
    name: 'gatehouse_tool_quota_refusals_total',
    help: 'Tool calls refused because a quota or rate limit (upstreams[].tools.limits) was reached, by upstream and tool.',
    labelNames: ['upstream', 'tool'] as const,
    registers: [registry],
  });
  const middleware: Middleware = (req, res, next) => {
    const stop = latency.startTimer();
    res.on('finish', () => {
      // The matched route pattern, never the raw path: ids and tokens must not become labels.
      const { route: matched, baseUrl } = req as Partial<Request>;
      const route = req.metricsRoute ?? (matched?.path ? `${baseUrl}${String(matched.path)}` : baseUrl || 'unmatched');
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      stop({ method: req.method, route });
    });
    next();
  };
  return { registry, middleware, toolQuotaRefused: (upstream, tool) => quotaRefusals.inc({ upstream, tool }) };
}
