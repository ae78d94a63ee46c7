import type { AuditEvent } from '../../portal/audit/event.js';
import { createMetrics } from '../../portal/http/metrics.js';

/** An audited tool call as the audit log seals it (only the fields the metrics read matter). */
function toolCall(upstream: string, tool: string, outcome: 'success' | 'error' = 'success'): AuditEvent {
  return {
    v: 1,
    time: new Date().toISOString(),
    event: 'mcp_tool_call',
    outcome,
    upstream,
    latency_ms: 12,
    details: { method: 'tools/call', tool },
  } as unknown as AuditEvent;
}

describe('upstream call metrics', () => {
  test('tool names made up by an agent stop becoming labels after 200 per upstream; they count as _other', async () => {
    const metrics = createMetrics();
    for (let i = 0; i < 300; i++) metrics.observeAuditEvent(toolCall('wiki', `made-up-${i}`, 'error'));
    metrics.observeAuditEvent(toolCall('other', 'search'));
    const text = await metrics.registry.metrics();
    const series = text.split('\n').filter((line) => line.startsWith('gatehouse_upstream_calls_total{upstream="wiki"'));
    expect(series).toHaveLength(201);
    expect(text).toContain('gatehouse_upstream_calls_total{upstream="wiki",method="tools/call",name="_other",outcome="error"} 100');
    // Another upstream has its own allowance.
    expect(text).toContain('gatehouse_upstream_calls_total{upstream="other",method="tools/call",name="search",outcome="success"} 1');
  });

  test('events that are not upstream calls, or name no upstream, are not counted', async () => {
    const metrics = createMetrics();
    metrics.observeAuditEvent({ ...toolCall('wiki', 'x'), event: 'login' } as AuditEvent);
    metrics.observeAuditEvent({ ...toolCall('wiki', 'x'), upstream: undefined } as AuditEvent);
    expect(await metrics.registry.metrics()).not.toMatch(/^gatehouse_upstream_calls_total\{/m);
  });
});
