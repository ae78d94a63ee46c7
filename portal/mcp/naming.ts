import { createHash } from 'node:crypto';

/** Separates an upstream id from a tool or prompt name: upstream ids never contain `_`. */
export const NAME_SEPARATOR = '__';
/** Longest tool name many clients accept (the default of `aggregate.max_tool_name_length`). */
export const MAX_NAME_LENGTH = 64;

/**
 * The aggregate's name for an upstream's tool or prompt: `{id}__{name}`, at most `maxLength`
 * characters; a longer one keeps its start and gets a hash of the whole name (`_` and 8 hex
 * digits): the same name every time, and two names differ as their full names do. Under a small
 * budget the `{id}__` prefix itself may be cut; such a name is found by its exact shown form.
 */
export function prefixedName(upstreamId: string, name: string, maxLength = MAX_NAME_LENGTH): string {
  const full = `${upstreamId}${NAME_SEPARATOR}${name}`;
  if (full.length <= maxLength) return full;
  const suffix = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, maxLength - suffix.length - 1)}_${suffix}`;
}

/** The upstream id a prefixed name starts with, or `undefined`. */
export function upstreamOfName(name: string): string | undefined {
  const index = name.indexOf(NAME_SEPARATOR);
  return index > 0 ? name.slice(0, index) : undefined;
}

const RESOURCE_PREFIX = /^gatehouse\+([a-z0-9][a-z0-9-]{0,30})\+(.+)$/s;

/**
 * The aggregate's URI for an upstream's resource (or URI template): the original with
 * `gatehouse+{id}+` before its scheme. It stays a valid URI (RFC 3986 schemes allow `+`),
 * templates keep their variables, and a read goes back to the right upstream.
 */
export function prefixedUri(upstreamId: string, uri: string): string {
  return `gatehouse+${upstreamId}+${uri}`;
}

/** Splits a prefixed resource URI into its upstream and the upstream's own URI. */
export function parsePrefixedUri(uri: string): { upstreamId: string; uri: string } | undefined {
  const match = RESOURCE_PREFIX.exec(uri);
  return match ? { upstreamId: match[1]!, uri: match[2]! } : undefined;
}

/** Where a paginated aggregate listing goes on: the upstream's index in the list and its own cursor. */
export interface AggregateCursor {
  upstream: number;
  cursor?: string;
}

export function encodeCursor(cursor: AggregateCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** @returns `undefined` for a cursor this portal did not make. */
export function decodeCursor(text: string): AggregateCursor | undefined {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as AggregateCursor;
    if (!Number.isInteger(value.upstream) || value.upstream < 0 || (value.cursor !== undefined && typeof value.cursor !== 'string'))
      return undefined;
    return value;
  } catch {
    return undefined;
  }
}
