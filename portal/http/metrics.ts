import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEvent, AuditEventName } from '../audit/event.js';
import type { Middleware } from './middleware.js';
import { findContext } from './request-context.js';

/** Prometheus metrics of one portal: a registry of its own, so several portals can share a process. */
export interface Metrics {
  registry: Registry;
  middleware: Middleware;
  /** Counts a tool call refused by `upstreams[].tools.limits`. */
  toolQuotaRefused(upstreamId: string, tool: string): void;
  /** Counts (and times) the upstream calls audit events record: tool calls, resource reads, prompt gets. */
  observeAuditEvent(event: AuditEvent): void;
}

/** What an upstream call's audit event names, per method: the label the call is counted under. */
const CALL_EVENTS: Partial<Record<AuditEventName, { method: string; name: (details: Record<string, unknown>) => unknown }>> = {
  mcp_tool_call: { method: 'tools/call', name: (d) => d.tool },
  mcp_prompt_get: { method: 'prompts/get', name: (d) => d.prompt },
  mcp_resource_read: { method: 'resources/read', name: () => '' },
};

/**
 * Distinct tool (or prompt) names labelled per upstream: the names come from agents, and an agent
 * calling made-up names must not grow the metrics without bound. Later names count as `_other`.
 */
const MAX_NAMES_PER_UPSTREAM = 200;

/** The matched route pattern (`/mcp/:id`), never the raw path: ids and tokens must not become labels or span names. */
export function routeOf(req: IncomingMessage): string {
  const { route: matched, baseUrl } = req as Partial<Request>;
  return findContext(req)?.metricsRoute ?? (matched?.path ? `${baseUrl}${String(matched.path)}` : baseUrl || 'unmatched');
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
  const upstreamCalls = new Counter({
    name: 'gatehouse_upstream_calls_total',
    help: 'Calls made to upstream MCP servers for agents (tools/call, resources/read, prompts/get), by upstream, method, tool or prompt, and outcome.',
    labelNames: ['upstream', 'method', 'name', 'outcome'] as const,
    registers: [registry],
  });
  const upstreamLatency = new Histogram({
    name: 'gatehouse_upstream_call_duration_seconds',
    help: "Time from an agent's call to the upstream's answer, by upstream, method and tool or prompt.",
    labelNames: ['upstream', 'method', 'name'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const namesSeen = new Map<string, Set<string>>();
  function nameLabel(upstream: string, name: unknown): string {
    if (typeof name !== 'string') return '';
    let seen = namesSeen.get(upstream);
    if (!seen) namesSeen.set(upstream, (seen = new Set()));
    if (seen.has(name)) return name;
    if (seen.size >= MAX_NAMES_PER_UPSTREAM) return '_other';
    seen.add(name);
    return name;
  }
  function observeAuditEvent(event: AuditEvent): void {
    const call = CALL_EVENTS[event.event];
    if (!call || !event.upstream) return;
    const labels = { upstream: event.upstream, method: call.method, name: nameLabel(event.upstream, call.name(event.details ?? {})) };
    upstreamCalls.inc({ ...labels, outcome: event.outcome });
    if (event.latency_ms !== undefined) upstreamLatency.observe(labels, event.latency_ms / 1000);
  }

  const middleware: Middleware = (req, res, next) => {
    const stop = latency.startTimer();
    res.on('finish', () => {
      const route = routeOf(req);
      requests.inc({ method: req.method, route, status: String(res.statusCode) });
      stop({ method: req.method, route });
    });
    next();
  };
  return { registry, middleware, toolQuotaRefused: (upstream, tool) => quotaRefusals.inc({ upstream, tool }), observeAuditEvent };
}
