import { ProtocolError, ProtocolErrorCode, type Resource, type ResourceTemplateType, type Server } from '@modelcontextprotocol/server';
import type { UpstreamConfig } from '../config/schema.js';
import { listAcross, listingFields, record, upstreamInView, withRounds, type EndpointContext } from './endpoint-context.js';
import { parsePrefixedUri, prefixedUri } from './naming.js';
import { upstreamCall, withTraceContext } from './trace-context.js';

/** The upstream behind a resource URI shown here, and the upstream's own URI. */
function resolveUri(ctx: EndpointContext, uri: string): { upstream: UpstreamConfig; uri: string } {
  if (ctx.naming === 'transparent') return { upstream: upstreamInView(ctx, ctx.upstreams[0]?.id, 'resource'), uri };
  const parsed = parsePrefixedUri(uri);
  return { upstream: upstreamInView(ctx, parsed?.upstreamId, `resource "${uri}"`), uri: parsed!.uri };
}

export function registerResourceHandlers(server: Server, ctx: EndpointContext): void {
  if (!ctx.capabilities.resources) return;
  const show = (upstream: UpstreamConfig, uri: string) => (ctx.naming === 'prefixed' ? prefixedUri(upstream.id, uri) : uri);

  server.setRequestHandler('resources/list', async (request, extra) => {
    const listing = await listAcross(ctx, request.params?.cursor, extra, 'resources/list', (page, upstream) =>
      (page.resources as Resource[]).map((r) => ({ ...r, uri: show(upstream, r.uri) })),
    );
    if (!listing.nextCursor && ctx.apps) listing.items.push(...ctx.apps.resources());
    return { resources: listing.items, ...listingFields(ctx, listing) };
  });

  server.setRequestHandler('resources/templates/list', async (request, extra) => {
    const listing = await listAcross(ctx, request.params?.cursor, extra, 'resources/templates/list', (page, upstream) =>
      (page.resourceTemplates as ResourceTemplateType[]).map((t) => ({ ...t, uriTemplate: show(upstream, t.uriTemplate) })),
    );
    if (!listing.nextCursor && ctx.apps) listing.items.push(...ctx.apps.templates());
    return { resourceTemplates: listing.items, ...listingFields(ctx, listing) };
  });

  server.setRequestHandler('resources/read', async (request, extra) => {
    const page = await ctx.apps?.read(request.params.uri);
    if (page) {
      record(
        ctx,
        { event: 'mcp_resource_read', outcome: 'success', details: { method: 'resources/read', uri: request.params.uri } },
        'app page read',
      );
      return page;
    }
    const { upstream, uri } = resolveUri(ctx, request.params.uri);
    return withRounds(ctx, extra, { method: 'resources/read', salient: request.params.uri }, async (signal) => {
      const connection = await ctx.pool.connection(ctx.session, upstream, ctx.auth);
      const result = await upstreamCall(upstream.id, uri, () =>
        connection.client.readResource(withTraceContext({ ...request.params, uri }, ctx.trace), { signal }),
      );
      record(
        ctx,
        { event: 'mcp_resource_read', outcome: 'success', upstream: upstream.id, details: { method: 'resources/read', uri } },
        'resource read',
      );
      return { ...result, contents: result.contents.map((c) => ({ ...c, uri: show(upstream, c.uri) })) };
    });
  });

  if (!ctx.capabilities.resources.subscribe) return;
  for (const [wire, method] of [
    ['resources/subscribe', 'subscribeResource'],
    ['resources/unsubscribe', 'unsubscribeResource'],
  ] as const) {
    server.setRequestHandler(wire, async (request, extra) => {
      const { upstream, uri } = resolveUri(ctx, request.params.uri);
      const connection = await ctx.pool.connection(ctx.session, upstream, ctx.auth);
      if (!connection.client.getServerCapabilities()?.resources?.subscribe) {
        throw new ProtocolError(ProtocolErrorCode.MethodNotFound, `upstream "${upstream.id}" does not support resource subscriptions`);
      }
      return connection.client[method]({ ...request.params, uri }, { signal: extra.mcpReq.signal });
    });
  }
}
