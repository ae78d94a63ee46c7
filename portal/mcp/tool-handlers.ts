import {
  ProtocolError,
  ProtocolErrorCode,
  type CallToolRequestParams,
  type CallToolResult,
  type InputRequiredResult,
  type Server,
  type Tool,
} from '@modelcontextprotocol/server';
import { taskHandleOf } from '../../adapters/upstream-client.js';
import { UpstreamError } from '../../adapters/upstream-errors.js';
import type { UpstreamConfig } from '../config/schema.js';
import { heldToolText, UNAPPROVED_META_KEY, type PinVerdict, type ToolPins } from '../governance/tool-pins.js';
import { CALL_TOOL, SEARCH_MODE_TOOLS, SEARCH_TOOL, searchLimit, searchTools } from '../governance/tool-search.js';
import { quotaRefusedEvent } from '../governance/tool-quotas.js';
import type { Person } from '../login/person.js';
import { mayUseTool } from '../policy/tools.js';
import { inSpan } from '../tracing/spans.js';
import { awaitApproval } from './approval-elicitation.js';
import { upstreamErrorText, withConnect } from './connect-elicitation.js';
import {
  listAcross,
  listingFields,
  record,
  upstreamInView,
  withRounds,
  type EndpointContext,
  type Extra,
  type ToolView,
} from './endpoint-context.js';
import type { ListPage } from './list-cache.js';
import type { ParamHeaderIndex } from './param-header-index.js';
import type { ParamHeaderDeclaration } from './standard-headers.js';
import { NAME_SEPARATOR, prefixedName, prefixedUri, upstreamOfName } from './naming.js';
import { presentTask } from './task-handlers.js';
import { upstreamCall, withTraceContext } from './trace-context.js';

/**
 * Whether an upstream's tool passes its `tools.allow`/`tools.deny` rules and, for `person`, its
 * per-group rules (`tools.allow_groups`/`tools.deny_groups`; see `mayUseTool`).
 */
export function toolAllowed(upstream: UpstreamConfig, name: string, person?: Person): boolean {
  return mayUseTool(person, upstream, name);
}

/**
 * How an upstream's tool is shown: renamed, redescribed, prefixed in the aggregate; one served
 * although its definition awaits an administrator (`pinning: warn`) says so in `_meta`.
 */
export function presentTool(upstream: UpstreamConfig, tool: Tool, view: ToolView, verdict: PinVerdict = 'serve'): Tool {
  const { naming } = view;
  const shown = upstream.tools.rename[tool.name] ?? tool.name;
  const description = upstream.tools.describe[shown] ?? upstream.tools.describe[tool.name] ?? tool.description;
  const presented: Tool = {
    ...tool,
    name: naming === 'prefixed' ? prefixedName(upstream.id, shown, view.maxToolNameLength) : shown,
    ...(description === undefined ? {} : { description }),
  };
  if (naming === 'prefixed' && tool._meta) presented._meta = withAggregateUiResource(upstream.id, tool._meta);
  if (verdict === 'flag') presented._meta = { ...presented._meta, [UNAPPROVED_META_KEY]: true };
  return presented;
}

/** The tools of an upstream's page this person sees, as shown here: allowed by the rules, not held by their pins. */
export function visibleTools(
  ctx: ToolView & { pins: ToolPins; auth: { person?: Person } },
  upstream: UpstreamConfig,
  tools: Tool[],
): Tool[] {
  const shown: Tool[] = [];
  for (const tool of tools) {
    if (!toolAllowed(upstream, tool.name, ctx.auth.person)) continue;
    const verdict = ctx.pins.check(upstream.id, upstream.tools.pinning, tool);
    if (verdict !== 'hold') shown.push(presentTool(upstream, tool, ctx, verdict));
  }
  return shown;
}

/**
 * Checks an upstream's tool listing against its pins (tool-pins.ts). The first sync needs every
 * page: a page of a longer listing then has the rest fetched first.
 */
async function reviewTools(
  ctx: EndpointContext,
  upstream: UpstreamConfig,
  page: ListPage,
  upstreamCursor: string | undefined,
  signal: AbortSignal,
): Promise<void> {
  const mode = upstream.tools.pinning;
  if (mode === 'off') return;
  await ctx.pins.load(upstream.id);
  const complete = upstreamCursor === undefined && !page.nextCursor;
  if (!complete && !ctx.pins.synced(upstream.id)) await toolsOf(ctx, upstream, signal);
  await ctx.pins.observe(upstream.id, mode, page.tools as Tool[], complete);
}

/**
 * MCP Apps (`io.modelcontextprotocol/ui`): a tool's view is the resource its `_meta.ui.resourceUri`
 * (or the older `_meta["ui/resourceUri"]`) names; in the aggregate that is the resource's
 * aggregate URI, which a host can read here.
 */
function withAggregateUiResource(upstreamId: string, meta: Record<string, unknown>): Record<string, unknown> {
  const ui = meta.ui as { resourceUri?: unknown } | undefined;
  const legacy = meta['ui/resourceUri'];
  if (typeof ui?.resourceUri !== 'string' && typeof legacy !== 'string') return meta;
  return {
    ...meta,
    ...(typeof ui?.resourceUri === 'string' ? { ui: { ...ui, resourceUri: prefixedUri(upstreamId, ui.resourceUri) } } : {}),
    ...(typeof legacy === 'string' ? { 'ui/resourceUri': prefixedUri(upstreamId, legacy) } : {}),
  };
}

/** The upstream's own name of a tool shown (unprefixed) as `shown`: undoes `tools.rename`. */
export function originalToolName(upstream: UpstreamConfig, shown: string): string {
  return Object.entries(upstream.tools.rename).find(([, to]) => to === shown)?.[0] ?? shown;
}

/** Every tool an upstream lists, page by page, from the list cache where it is fresh. */
async function toolsOf(ctx: EndpointContext, upstream: UpstreamConfig, signal: AbortSignal): Promise<Tool[]> {
  const tools: Tool[] = [];
  for (let cursor: string | undefined, first = true; first || cursor; first = false) {
    let page = ctx.lists.get(upstream.id, 'tools/list', cursor, ctx.auth.person.id)?.page as ListPage | undefined;
    if (!page) {
      const connection = await ctx.pool.connection(ctx.session, upstream, ctx.auth);
      page = (await connection.client.request({ method: 'tools/list', params: cursor ? { cursor } : {} }, { signal })) as ListPage;
      ctx.lists.set(upstream.id, 'tools/list', cursor, ctx.auth.person.id, page);
    }
    tools.push(...(page.tools as Tool[]));
    cursor = page.nextCursor;
  }
  if (upstream.tools.pinning !== 'off') {
    await ctx.pins.load(upstream.id);
    await ctx.pins.observe(upstream.id, upstream.tools.pinning, tools, true);
  }
  return tools;
}

/**
 * The `x-mcp-header` declarations of the upstream tool shown here as `name` (the upstream's own
 * schema, renamed or not), from `index` or, when it does not know the upstream's tools or `fresh`
 * is asked, from its listing. `undefined` when the name is no upstream's tool or the listing cannot
 * be had: the call's own handler answers for that.
 */
export async function paramHeadersOfTool(
  ctx: EndpointContext,
  index: ParamHeaderIndex,
  name: string,
  signal: AbortSignal,
  fresh: boolean,
): Promise<ParamHeaderDeclaration[] | undefined> {
  if (ctx.naming === 'prefixed' && (name === SEARCH_TOOL || name === CALL_TOOL || ctx.apps?.appOfTool(name))) return undefined;
  try {
    const { upstream, original } = await resolveTool(ctx, name, signal);
    const known = fresh ? undefined : index.declarationsOf(upstream.id, original);
    if (known) return known;
    index.learn(upstream.id, await toolsOf(ctx, upstream, signal));
    return index.declarationsOf(upstream.id, original);
  } catch {
    return undefined;
  }
}

/** The upstream and its own tool name behind a name shown here. */
async function resolveTool(
  ctx: EndpointContext,
  name: string,
  signal: AbortSignal,
): Promise<{ upstream: UpstreamConfig; original: string }> {
  if (ctx.naming === 'transparent') {
    const upstream = upstreamInView(ctx, ctx.upstreams[0]?.id, `tool "${name}"`);
    return { upstream, original: originalToolName(upstream, name) };
  }
  // A name at the length budget may have been shortened: it is found by the form it is shown in.
  if (name.length === ctx.maxToolNameLength) {
    const shortened = await resolveShortened(ctx, name, signal);
    if (shortened) return shortened;
  }
  if (!ctx.upstreams.some((u) => u.id === upstreamOfName(name))) return resolveUnprefixed(ctx, name, signal);
  const upstream = upstreamInView(ctx, upstreamOfName(name), `tool "${name}"`);
  return { upstream, original: originalToolName(upstream, name.slice(upstream.id.length + NAME_SEPARATOR.length)) };
}

/** The tool shown as `name` (shortened to the budget) in one of the upstreams' listings, if any. */
async function resolveShortened(
  ctx: EndpointContext,
  name: string,
  signal: AbortSignal,
): Promise<{ upstream: UpstreamConfig; original: string } | undefined> {
  for (const upstream of ctx.upstreams) {
    const match = (await toolsOf(ctx, upstream, signal).catch(() => [])).find((tool) => presentTool(upstream, tool, ctx).name === name);
    if (match) {
      ctx.inFlight.upstreamId = upstream.id;
      return { upstream, original: match.name };
    }
  }
  return undefined;
}

/**
 * A tool named as its upstream names it (not prefixed, not renamed), in the aggregate: an MCP
 * App's view calls its own server's tools so. It resolves when exactly one upstream the person
 * may use has it, allowed.
 */
async function resolveUnprefixed(
  ctx: EndpointContext,
  name: string,
  signal: AbortSignal,
): Promise<{ upstream: UpstreamConfig; original: string }> {
  const owners = await Promise.all(
    ctx.upstreams.map(async (upstream) => {
      const tools = await toolsOf(ctx, upstream, signal).catch(() => []);
      const match = tools.find(
        (tool) =>
          tool.name === name &&
          toolAllowed(upstream, tool.name, ctx.auth.person) &&
          ctx.pins.check(upstream.id, upstream.tools.pinning, tool) !== 'hold',
      );
      return match ? { upstream, original: match.name } : undefined;
    }),
  );
  const found = owners.filter((owner) => owner !== undefined);
  if (found.length !== 1) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `unknown tool "${name}"`);
  ctx.inFlight.upstreamId = found[0]!.upstream.id;
  return found[0]!;
}

export function registerToolHandlers(server: Server, ctx: EndpointContext): void {
  if (!ctx.capabilities.tools) return;
  server.setRequestHandler('tools/list', async (request, extra) => {
    // Search mode: two tools stand for all the others (a short listing for a model's context).
    if (ctx.naming === 'prefixed' && ctx.toolMode === 'search')
      return { tools: SEARCH_MODE_TOOLS, ...listingFields(ctx, { items: [], ttlMs: 0 }) };
    const listing = await listAcross(
      ctx,
      request.params?.cursor,
      extra,
      'tools/list',
      (page, upstream) => visibleTools(ctx, upstream, page.tools as Tool[]),
      (page, upstream, upstreamCursor) => reviewTools(ctx, upstream, page, upstreamCursor, extra.mcpReq.signal),
    );
    // The apps' fetch tools come after every upstream's tools, on the last page.
    if (!listing.nextCursor && ctx.apps) listing.items.push(...ctx.apps.tools());
    return { tools: listing.items, ...listingFields(ctx, listing) };
  });

  server.setRequestHandler('tools/call', async (request, extra): Promise<CallToolResult | InputRequiredResult> => {
    const { params } = request;
    if (ctx.naming === 'prefixed' && params.name === SEARCH_TOOL) return searchFor(ctx, params.arguments, extra.mcpReq.signal);
    if (ctx.naming === 'prefixed' && params.name === CALL_TOOL) {
      const { name, arguments: args } = params.arguments ?? {};
      if (typeof name !== 'string' || (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args)))) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `${CALL_TOOL} needs "name" (a string) and "arguments" (an object)`);
      }
      return callTool(ctx, extra, { ...params, name, arguments: args as Record<string, unknown> | undefined });
    }
    return callTool(ctx, extra, params);
  });
}

/**
 * The rules a call meets before it may go upstream: the person's tool rules (an unknown tool to
 * them), the pin of its definition, and the quotas. Returns the tool error to answer with, if any.
 */
async function toolPolicy(
  ctx: EndpointContext,
  upstream: UpstreamConfig,
  original: string,
  shownName: string,
): Promise<CallToolResult | undefined> {
  if (!toolAllowed(upstream, original, ctx.auth.person)) {
    record(
      ctx,
      {
        event: 'policy_denied',
        outcome: 'denied',
        upstream: upstream.id,
        details: { rule: 'tools', method: 'tools/call', tool: original },
      },
      'tool call denied by policy',
    );
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `unknown tool "${shownName}"`);
  }
  await ctx.pins.load(upstream.id);
  if (ctx.pins.checkCall(upstream.id, upstream.tools.pinning, original) === 'hold') {
    record(
      ctx,
      {
        event: 'policy_denied',
        outcome: 'denied',
        upstream: upstream.id,
        details: { rule: 'pinning', method: 'tools/call', tool: original },
      },
      'tool call held: its definition awaits approval',
    );
    return { isError: true, content: [{ type: 'text', text: heldToolText(upstream.id, shownName) }] };
  }
  const refusal = await ctx.quotas.take(upstream, original, ctx.auth.person.id, ctx.countedCalls);
  if (refusal) {
    record(ctx, quotaRefusedEvent(upstream.id, original, refusal), 'tool call refused: limit reached');
    return { isError: true, content: [{ type: 'text', text: refusal.text }] };
  }
  return undefined;
}

/**
 * Calls the tool shown here as `params.name`, through every rule: the app fetch tools, the
 * person's tool rules, pins, quotas, the person's approval, connecting first, and the audit.
 */
async function callTool(ctx: EndpointContext, extra: Extra, params: CallToolRequestParams): Promise<CallToolResult | InputRequiredResult> {
  const app = ctx.apps?.appOfTool(params.name);
  if (app) {
    record(
      ctx,
      {
        event: 'mcp_tool_call',
        outcome: 'success',
        upstream: app.id,
        details: { method: 'tools/call', tool: 'fetch', path: params.arguments?.path },
      },
      'app page fetched',
    );
    return ctx.apps!.callFetch(app, params.arguments);
  }
  const { upstream, original } = await resolveTool(ctx, params.name, extra.mcpReq.signal);
  const refused = await inSpan('tool policy', { 'gatehouse.upstream': upstream.id, 'gatehouse.tool': original }, () =>
    toolPolicy(ctx, upstream, original, params.name),
  );
  if (refused) return refused;
  ctx.inFlight.progressToken = params._meta?.progressToken;
  const call = async (signal: AbortSignal): Promise<CallToolResult> => {
    // Inside the call: asking the agent to send the person to approve is a round for a 2026 agent.
    const approval = await awaitApproval(ctx, signal, upstream, original, params);
    if (!approval.go) return approval.result;
    const approved = approval.approval ? { approval: approval.approval } : {};
    const started = Date.now();
    try {
      // An upstream that needs the person's own account first asks them to connect it.
      const result = await withConnect(ctx, signal, async () => {
        const connection = await ctx.pool.connection(ctx.session, upstream, ctx.auth);
        return (await upstreamCall(upstream.id, original, () =>
          connection.client.callTool(withTraceContext({ ...params, name: original }, ctx.trace), { signal }),
        )) as CallToolResult;
      });
      const task = taskHandleOf(result);
      if (task) {
        record(
          ctx,
          {
            event: 'mcp_tool_call',
            outcome: 'success',
            upstream: upstream.id,
            latencyMs: Date.now() - started,
            arguments: params.arguments,
            details: { method: 'tools/call', tool: original, ...approved, task: task.taskId, status: task.status },
          },
          'tool call became a task',
        );
        return presentTask(ctx, upstream, task);
      }
      record(
        ctx,
        {
          event: 'mcp_tool_call',
          outcome: result.isError ? 'error' : 'success',
          upstream: upstream.id,
          latencyMs: Date.now() - started,
          arguments: params.arguments,
          result: result.content,
          details: { method: 'tools/call', tool: original, ...approved, ...(result.isError ? { toolError: true } : {}) },
        },
        'tool called',
      );
      return result;
    } catch (error) {
      record(
        ctx,
        {
          event: 'mcp_tool_call',
          outcome: 'error',
          upstream: upstream.id,
          latencyMs: Date.now() - started,
          arguments: params.arguments,
          details: { method: 'tools/call', tool: original, ...approved, errorCode: (error as { code?: unknown }).code },
        },
        'tool call failed',
      );
      if (!(error instanceof UpstreamError)) throw error;
      // The upstream is down or slow: the agent gets a tool error it can read, the portal stays healthy.
      return { isError: true, content: [{ type: 'text', text: upstreamErrorText(upstream.id, error) }] };
    }
  };
  return withRounds(ctx, extra, { method: 'tools/call', salient: [params.name, params.arguments ?? {}] }, call);
}

/** `gatehouse__search_tools`: the tools this person may use across the upstreams, best match for `query` first. */
async function searchFor(ctx: EndpointContext, args: Record<string, unknown> | undefined, signal: AbortSignal): Promise<CallToolResult> {
  const query = args?.query;
  const limit = searchLimit(args?.limit);
  if (typeof query !== 'string' || !query.trim() || limit === undefined) {
    throw new ProtocolError(
      ProtocolErrorCode.InvalidParams,
      `${SEARCH_TOOL} needs "query" (a non-empty string) and an optional "limit" (1 to 50)`,
    );
  }
  const perUpstream = await Promise.all(
    ctx.upstreams.map(async (upstream) => {
      try {
        return visibleTools(ctx, upstream, await toolsOf(ctx, upstream, signal));
      } catch (error) {
        // An upstream that is down (or has no tools) offers nothing to find; the others still do.
        if (error instanceof UpstreamError || error instanceof ProtocolError) return [];
        throw error;
      }
    }),
  );
  const found = searchTools([...perUpstream.flat(), ...(ctx.apps?.tools() ?? [])], query, limit).map(
    ({ name, title, description, inputSchema }) => ({ name, title, description, inputSchema }),
  );
  record(
    ctx,
    {
      event: 'mcp_tool_call',
      outcome: 'success',
      arguments: args,
      details: { method: 'tools/call', tool: SEARCH_TOOL, matches: found.length },
    },
    'tools searched',
  );
  return { content: [{ type: 'text', text: JSON.stringify({ tools: found }, null, 2) }], structuredContent: { tools: found } };
}
