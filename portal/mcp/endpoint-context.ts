import { setMaxListeners } from 'node:events';
import {
  ProtocolError,
  ProtocolErrorCode,
  type InputRequiredResult,
  type Request,
  type Result,
  type ServerCapabilities,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { McpUpstreamConnection } from '../../adapters/mcp-upstream.js';
import { UpstreamError } from '../../adapters/upstream-errors.js';
import type { UpstreamConfig } from '../config/schema.js';
import type { AuditInput } from '../audit/event.js';
import type { RequestAuditor } from '../audit/request-audit.js';
import type { AuthContext } from '../oauth/bearer.js';
import type { UpstreamConnections } from '../credentials/connections.js';
import type { AgentSession } from './agent-sessions.js';
import type { AppsInAggregate } from './app-handlers.js';
import { decodeCursor, encodeCursor } from './naming.js';
import type { InFlightRequest } from './session-hub.js';
import type { InputRounds, RoundSubject } from './input-rounds.js';
import type { TaskHandles } from './task-handles.js';
import type { ToolPins } from '../governance/tool-pins.js';
import type { ToolApprovals } from '../governance/tool-approvals.js';
import type { ToolQuotas } from '../governance/tool-quotas.js';
import type { ToolMode } from '../governance/tool-search.js';
import type { ListCache, ListMethod, ListPage } from './list-cache.js';
import type { TraceContext } from './trace-context.js';
import type { UpstreamPool } from './upstream-pool.js';

export type Extra = ServerContext;

/** How tools are named here: prefixed (`{id}__name`, within a length budget) in the aggregate, as the upstream names them on `/mcp/{id}`. */
export interface ToolView {
  naming: 'prefixed' | 'transparent';
  /** `aggregate.max_tool_name_length`: longer prefixed names are shortened. */
  maxToolNameLength: number;
}

/** Everything an MCP request handler needs: who asks, in which session, over which upstreams. */
export interface EndpointContext extends ToolView {
  /** The aggregate lists every tool, or two that search and call them (`aggregate.tool_mode`, `/mcp?tools=`). */
  toolMode: ToolMode;
  session: AgentSession;
  auth: AuthContext;
  /** The MCP upstreams this endpoint shows this person, in a stable (config) order. */
  upstreams: UpstreamConfig[];
  /** What this endpoint declares: the aggregate's, or (transparent) the upstream's own. Only these methods are served. */
  capabilities: ServerCapabilities;
  /** The agent's W3C trace context from its HTTP headers, passed on to upstreams in `_meta`. */
  trace: TraceContext;
  /** The agent's protocol: MCP 2026-07-28 (stateless) or the session protocol. */
  era: 'modern' | 'legacy';
  /** A stateless agent's multi round-trip requests: what an upstream asks mid-call becomes `input_required`. */
  rounds?: InputRounds;
  /** A stateless agent's task handles (tasks extension): upstream tasks it may poll, update and cancel. */
  tasks?: TaskHandles;
  pool: UpstreamPool;
  logger: Logger;
  /** The aggregate's HTTP apps (their fetch tools and pages); absent on `/mcp/{id}`. */
  apps?: AppsInAggregate;
  /** This HTTP request's entry in the session hub: says which upstream it went to. */
  inFlight: InFlightRequest;
  /** Records an audit event for this HTTP request (person, client, request id and IP filled in). */
  audit?: RequestAuditor;
  /** People's connections to `oauth` upstreams: to wait for a connect the agent asked the person for. */
  connections: Pick<UpstreamConnections, 'waitForConnect'>;
  /** Upstream list pages still fresh, shared by every request of this process. */
  lists: ListCache;
  /** The pinned tool definitions: a tool that changed since an administrator approved it waits. */
  pins: ToolPins;
  /** Per-person tool quotas and rate limits. */
  quotas: ToolQuotas;
  /** The HTTP request's calls counted by quotas (the request context's `countedCalls`). */
  countedCalls: Set<string>;
  /** The person's approval of calls to sensitive tools (`tools.approval`). */
  approvals: ToolApprovals;
  /** Sends a server→client request (e.g. `elicitation/create`) to the agent on this request's stream and awaits its answer. */
  askAgent?: (request: Request) => Promise<Result>;
}

/** The connection to an upstream, or a warning to the agent (and the log) when it is down. */
export async function connectOrWarn(
  ctx: EndpointContext,
  upstream: UpstreamConfig,
  extra: Extra,
): Promise<McpUpstreamConnection | undefined> {
  try {
    return await ctx.pool.connection(ctx.session, upstream, ctx.auth);
  } catch (error) {
    await warnUnavailable(ctx, upstream, error, extra);
    return undefined;
  }
}

export async function warnUnavailable(ctx: EndpointContext, upstream: UpstreamConfig, error: unknown, extra: Extra): Promise<void> {
  const reason = error instanceof UpstreamError ? error.message : 'it failed';
  ctx.logger.warn({ upstream: upstream.id, errorCode: (error as { code?: string }).code, err: error }, 'upstream left out: unavailable');
  await extra.mcpReq
    .notify({
      method: 'notifications/message',
      params: { level: 'warning', logger: 'gatehouse', data: `upstream "${upstream.id}" is unavailable and was left out: ${reason}` },
    })
    .catch(() => {});
}

/** The capability an upstream must declare to be asked for a list. */
const CAPABILITY_OF: Record<ListMethod, 'tools' | 'prompts' | 'resources'> = {
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
  'resources/templates/list': 'resources',
};

/** A listing across upstreams: the items, where it goes on, and how long it stays fresh (the least of its upstreams' pages). */
export interface Listing<T> {
  items: T[];
  nextCursor?: string;
  /** MCP 2026-07-28 `ttlMs`: no longer than any upstream page it holds allows. */
  ttlMs: number;
}

/**
 * Lists across upstreams in order, one page of each: the aggregate cursor records
 * which upstream to continue with and that upstream's own cursor (DESIGN.md: pagination
 * works across upstreams, results in a stable order). A page still fresh in the list cache is
 * served from it; others are asked for with `client.request()`: the SDK's `listTools()` and kin
 * gather every page into one and answer "empty" for a resumed upstream session whose
 * capabilities the SDK did not see itself. `review` looks at each upstream page first (where it
 * may ask the Store); `present` turns it into what this person sees here.
 */
export async function listAcross<T>(
  ctx: EndpointContext,
  cursor: string | undefined,
  extra: Extra,
  method: ListMethod,
  present: (page: ListPage, upstream: UpstreamConfig) => T[],
  review?: (page: ListPage, upstream: UpstreamConfig, upstreamCursor: string | undefined) => Promise<void>,
): Promise<Listing<T>> {
  const start = cursor === undefined ? { upstream: 0 } : decodeCursor(cursor);
  if (!start) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'invalid cursor');
  // Ask every remaining upstream at once (a slow one costs its own time, not the sum), then
  // assemble in order up to the first upstream that has more pages.
  setMaxListeners(Math.max(10, ctx.upstreams.length * 2), extra.mcpReq.signal);
  const pages = ctx.upstreams.slice(start.upstream).map(async (upstream, offset) => {
    const upstreamCursor = offset === 0 ? start.cursor : undefined;
    const cached = ctx.lists.get(upstream.id, method, upstreamCursor, ctx.auth.person.id);
    if (cached) {
      await review?.(cached.page, upstream, upstreamCursor);
      return { page: cached.page, upstream, freshMs: cached.remainingMs };
    }
    const connection = await connectOrWarn(ctx, upstream, extra);
    if (!connection?.client.getServerCapabilities()?.[CAPABILITY_OF[method]]) return undefined;
    try {
      const page = (await connection.client.request(
        { method, params: upstreamCursor ? { cursor: upstreamCursor } : {} },
        { signal: extra.mcpReq.signal },
      )) as ListPage;
      ctx.lists.set(upstream.id, method, upstreamCursor, ctx.auth.person.id, page);
      await review?.(page, upstream, upstreamCursor);
      return { page, upstream, freshMs: page.ttlMs ?? 0 };
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      await warnUnavailable(ctx, upstream, error, extra);
      return undefined;
    }
  });
  // Pages after the one that ends this listing are not awaited: their failures must not go unhandled.
  for (const pending of pages) pending.catch(() => {});
  const items: T[] = [];
  let ttlMs = Infinity;
  for (let offset = 0; offset < pages.length; offset++) {
    const result = await pages[offset]!;
    if (!result) continue;
    items.push(...present(result.page, result.upstream));
    ttlMs = Math.min(ttlMs, Math.max(0, Math.floor(result.freshMs)));
    if (result.page.nextCursor)
      return { items, nextCursor: encodeCursor({ upstream: start.upstream + offset, cursor: result.page.nextCursor }), ttlMs };
  }
  return { items, ttlMs: Number.isFinite(ttlMs) ? ttlMs : 0 };
}

/**
 * The fields a listing adds to its result: the cursor, and for a 2026 agent how long it stays
 * fresh; `private`, as every listing here is filtered for the person. A 2025 agent gets
 * neither (its protocol has no such fields).
 */
export function listingFields(
  ctx: EndpointContext,
  listing: Listing<unknown>,
): { nextCursor?: string; ttlMs?: number; cacheScope?: 'private' } {
  const next = listing.nextCursor ? { nextCursor: listing.nextCursor } : {};
  return ctx.era === 'modern' ? { ...next, ttlMs: listing.ttlMs, cacheScope: 'private' } : next;
}

/** The upstream with this id if this endpoint shows it, else a JSON-RPC error. */
export function upstreamInView(ctx: EndpointContext, upstreamId: string | undefined, what: string): UpstreamConfig {
  const upstream = ctx.upstreams.find((u) => u.id === upstreamId);
  if (!upstream) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `unknown ${what}`);
  ctx.inFlight.upstreamId = upstream.id;
  return upstream;
}

/**
 * Runs an upstream call for the agent's request. For a stateless (2026) agent, what the upstream
 * asks mid-call comes back as `input_required` rounds (input-rounds.ts), and the call follows its
 * own signal rather than the request's, as it may outlive it.
 */
export function withRounds<R extends Result>(
  ctx: EndpointContext,
  extra: Extra,
  subject: RoundSubject,
  call: (signal: AbortSignal) => Promise<R>,
): Promise<R | InputRequiredResult> {
  if (!ctx.rounds) return call(extra.mcpReq.signal);
  const scope = {
    personId: ctx.auth.person.id,
    grantId: ctx.auth.grantId,
    endpoint: ctx.session.endpoint,
    sessionId: ctx.session.id,
    inFlight: ctx.inFlight,
    logger: ctx.logger,
  };
  return ctx.rounds.run(scope, extra, subject, call);
}

/** Records an audit event of this MCP request (or, without the audit service, logs its line). */
export function record(ctx: EndpointContext, input: AuditInput, message: string): void {
  if (ctx.audit) ctx.audit(input, message);
  else
    ctx.logger.info(
      { event: input.event, outcome: input.outcome, upstream: input.upstream, ms: input.latencyMs, ...input.details },
      message,
    );
}
