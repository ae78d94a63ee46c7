import type { Tool } from '@modelcontextprotocol/server';
import MiniSearch from 'minisearch';

/** `aggregate.tool_mode` (and `/mcp?tools=`): every tool listed, or two tools that find and call the rest. */
export type ToolMode = 'all' | 'search';
export const TOOL_MODES = ['all', 'search'] as const;

/** The upstream id the portal's own tools go by: reserved. */
export const PORTAL_TOOL_PREFIX = 'gatehouse';
export const SEARCH_TOOL = `${PORTAL_TOOL_PREFIX}__search_tools`;
export const CALL_TOOL = `${PORTAL_TOOL_PREFIX}__call_tool`;

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 50;

/** What the aggregate lists in search mode. */
export const SEARCH_MODE_TOOLS: Tool[] = [
  {
    name: SEARCH_TOOL,
    title: 'Search tools',
    description: `Finds the tools you may use among every MCP server behind this gateway, best match first. Returns each tool's name, description and input schema; call one with ${CALL_TOOL} (or by its name).`,
    inputSchema: {
      type: 'object',
      properties: {
        query: { type: 'string', description: 'What the tool should do, in a few words (e.g. "create a jira issue")' },
        limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, description: `How many tools to return (default ${DEFAULT_LIMIT})` },
      },
      required: ['query'],
    },
    outputSchema: { type: 'object', properties: { tools: { type: 'array', items: { type: 'object' } } }, required: ['tools'] },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  {
    name: CALL_TOOL,
    title: 'Call a tool',
    description: `Calls a tool found with ${SEARCH_TOOL}, by its name, with its arguments.`,
    inputSchema: {
      type: 'object',
      properties: {
        name: { type: 'string', description: `The tool's name, as ${SEARCH_TOOL} gave it` },
        arguments: { type: 'object', description: "The tool's arguments, as its input schema says" },
      },
      required: ['name'],
    },
  },
];

/** The `limit` of a search: an integer from 1 to 50, 10 when not given. */
export function searchLimit(value: unknown): number | undefined {
  if (value === undefined) return DEFAULT_LIMIT;
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_LIMIT ? (value as number) : undefined;
}

/**
 * The tools that best match `query`, ranked by BM25 (MiniSearch) over each tool's name (split
 * at `_`, `-` and case changes), title, description and parameter names and descriptions;
 * prefix and typo-tolerant matches count for less. Tools with no match are left out.
 */
export function searchTools(tools: Tool[], query: string, limit: number): Tool[] {
  const index = new MiniSearch<{ id: number; name: string; title: string; description: string; parameters: string }>({
    fields: ['name', 'title', 'description', 'parameters'],
    tokenize: (text) =>
      text
        .replace(/([a-z])([A-Z])/g, '$1 $2')
        .split(/[\s_\-./:,;()[\]{}"'`]+/)
        .filter(Boolean),
    searchOptions: { boost: { name: 3, title: 2, description: 1, parameters: 0.5 }, prefix: true, fuzzy: 0.2, combineWith: 'OR' },
  });
  index.addAll(
    tools.map((tool, id) => ({
      id,
      name: tool.name,
      title: tool.title ?? '',
      description: tool.description ?? '',
      parameters: parameterText(tool),
    })),
  );
  return index
    .search(query)
    .slice(0, limit)
    .map((hit) => tools[hit.id as number]!);
}

function parameterText(tool: Tool): string {
  const properties = (tool.inputSchema as { properties?: Record<string, { description?: unknown }> }).properties ?? {};
  return Object.entries(properties)
    .map(([name, schema]) => `${name} ${typeof schema?.description === 'string' ? schema.description : ''}`)
    .join(' ');
}
