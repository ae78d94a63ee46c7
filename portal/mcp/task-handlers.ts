import { ProtocolError, ProtocolErrorCode, type CallToolResult, type Server } from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { UpstreamConfig } from '../config/schema.js';
import { record, type EndpointContext } from './endpoint-context.js';
import type { TaskOwner } from './task-handles.js';

/** The tasks extension's methods; each names its task by `params.taskId` (the handle the agent holds). */
const TASK_METHODS = ['tasks/get', 'tasks/update', 'tasks/cancel'] as const;

const TaskParams = z.looseObject({ taskId: z.string() });

/** Terminal task states: the outcome of the call the task stands for is known. */
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

function ownerOf(ctx: EndpointContext): TaskOwner {
  return { personId: ctx.auth.person.id, clientId: ctx.auth.clientId };
}

/**
 * A `tools/call` an upstream answered with a task (`resultType: "task"`), as the agent gets it:
 * the task with its id replaced by a handle that routes back to the upstream and opens only for
 * this person and agent.
 */
export function presentTask(ctx: EndpointContext, upstream: UpstreamConfig, task: Record<string, unknown>): CallToolResult {
  if (!ctx.tasks) {
    // Only a 2026 agent declares the extension, so no other gets a task; an upstream that sends one anyway is answered for.
    return {
      isError: true,
      content: [{ type: 'text', text: `Upstream "${upstream.id}" answered with a task, which this agent did not ask for.` }],
    };
  }
  const taskId = ctx.tasks.handle(ownerOf(ctx), { upstreamId: upstream.id, taskId: String(task.taskId) });
  return { ...task, resultType: 'task', taskId } as unknown as CallToolResult;
}

/**
 * `tasks/get`, `tasks/update` and `tasks/cancel` (MCP tasks extension) for the tasks upstreams
 * started on this endpoint's tool calls: the handle names the upstream and its own task id; the
 * request goes there on the person's connection and the answer comes back with the handle in
 * place of the upstream's id. A handle that is not this person's and this agent's is an unknown
 * task, and nothing reaches an upstream.
 */
export function registerTaskHandlers(server: Server, ctx: EndpointContext): void {
  // Served whatever this process has seen of the upstreams: a handle can only come from a task an upstream started.
  if (!ctx.tasks) return;
  const handles = ctx.tasks;
  for (const method of TASK_METHODS) {
    server.setRequestHandler(method, { params: TaskParams }, async (params, extra) => {
      const { taskId: handle, _meta, ...rest } = params;
      const target = handles.resolve(ownerOf(ctx), handle);
      const upstream = target && ctx.upstreams.find((u) => u.id === target.upstreamId);
      if (!target || !upstream) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `unknown task "${handle}"`);
      ctx.inFlight.upstreamId = upstream.id;
      const connection = await ctx.pool.connection(ctx.session, upstream, ctx.auth);
      // The SDK lifts `inputResponses` (a multi round-trip field) out of params; `tasks/update` carries them on.
      const inputResponses = method === 'tasks/update' ? { inputResponses: extra.mcpReq.inputResponses ?? {} } : {};
      const answer = await connection.client.extensionRequest(
        method,
        { ...rest, ...inputResponses, taskId: target.taskId },
        { signal: extra.mcpReq.signal },
      );
      const { resultType: _resultType, _meta: _upstreamMeta, ...result } = answer;
      const status = result.status;
      if (method !== 'tasks/get' || (typeof status === 'string' && TERMINAL.has(status))) {
        record(
          ctx,
          {
            event: 'mcp_task',
            outcome: status === 'failed' ? 'error' : 'success',
            upstream: upstream.id,
            details: { method, task: target.taskId, ...(typeof status === 'string' ? { status } : {}) },
          },
          `task ${method.slice('tasks/'.length)}`,
        );
      }
      return method === 'tasks/get' ? { ...result, taskId: handle } : result;
    });
  }
}
