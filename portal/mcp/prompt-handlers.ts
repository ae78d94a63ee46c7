import type { Prompt, Server } from '@modelcontextprotocol/server';
import { connectOrWarn, listAcross, listingFields, record, upstreamInView, withRounds, type EndpointContext } from './endpoint-context.js';
import { NAME_SEPARATOR, parsePrefixedUri, prefixedName, upstreamOfName } from './naming.js';
import { upstreamCall, withTraceContext } from './trace-context.js';

/** Prompts, argument completion and logging levels, routed to the upstream that owns the name (those the endpoint declares). */
export function registerPromptHandlers(server: Server, ctx: EndpointContext): void {
  const prefixed = ctx.naming === 'prefixed';
  const resolvePrompt = (name: string) => {
    const upstream = upstreamInView(ctx, prefixed ? upstreamOfName(name) : ctx.upstreams[0]?.id, `prompt "${name}"`);
    return { upstream, name: prefixed ? name.slice(upstream.id.length + NAME_SEPARATOR.length) : name };
  };

  const capabilities = ctx.capabilities;
  if (capabilities.prompts)
    server.setRequestHandler('prompts/list', async (request, extra) => {
      const listing = await listAcross(ctx, request.params?.cursor, extra, 'prompts/list', (page, upstream) =>
        (page.prompts as Prompt[]).map((p) => ({ ...p, name: prefixed ? prefixedName(upstream.id, p.name) : p.name })),
      );
      return { prompts: listing.items, ...listingFields(ctx, listing) };
    });

  if (capabilities.prompts)
    server.setRequestHandler('prompts/get', async (request, extra) => {
      const { upstream, name } = resolvePrompt(request.params.name);
      return withRounds(
        ctx,
        extra,
        { method: 'prompts/get', salient: [request.params.name, request.params.arguments ?? {}] },
        async (signal) => {
          const connection = await ctx.pool.connection(ctx.session, upstream, ctx.auth);
          const result = await upstreamCall(upstream.id, name, () =>
            connection.client.getPrompt(withTraceContext({ ...request.params, name }, ctx.trace), { signal }),
          );
          record(
            ctx,
            {
              event: 'mcp_prompt_get',
              outcome: 'success',
              upstream: upstream.id,
              arguments: request.params.arguments,
              details: { method: 'prompts/get', prompt: name },
            },
            'prompt fetched',
          );
          return result;
        },
      );
    });

  if (capabilities.completions)
    server.setRequestHandler('completion/complete', async (request, extra) => {
      const { ref } = request.params;
      let target;
      if (ref.type === 'ref/prompt') {
        const { upstream, name } = resolvePrompt(ref.name);
        target = { upstream, ref: { ...ref, name } };
      } else {
        const parsed = prefixed ? parsePrefixedUri(ref.uri) : { upstreamId: ctx.upstreams[0]?.id ?? '', uri: ref.uri };
        target = { upstream: upstreamInView(ctx, parsed?.upstreamId, `resource "${ref.uri}"`), ref: { ...ref, uri: parsed!.uri } };
      }
      const connection = await ctx.pool.connection(ctx.session, target.upstream, ctx.auth);
      if (!connection.client.getServerCapabilities()?.completions) return { completion: { values: [] } };
      return connection.client.complete({ ...request.params, ref: target.ref }, { signal: extra.mcpReq.signal });
    });

  if (capabilities.logging)
    server.setRequestHandler('logging/setLevel', async (request, extra) => {
      await Promise.all(
        ctx.upstreams.map(async (upstream) => {
          const connection = await connectOrWarn(ctx, upstream, extra);
          if (connection?.client.getServerCapabilities()?.logging)
            await connection.client.setLoggingLevel(request.params.level, { signal: extra.mcpReq.signal }).catch(() => {});
        }),
      );
      return {};
    });
}
