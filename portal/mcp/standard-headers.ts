import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { UnsupportedProtocolVersionError, classifyInboundRequest } from '@modelcontextprotocol/server';

/** MCP 2026-07-28 `HeaderMismatch`: a standard header that disagrees with the body. */
export const HEADER_MISMATCH = -32020;

/** The stateless protocol versions the SDK's entry serves (it does not export its list). */
export const STATELESS_VERSIONS: readonly string[] = ['2026-07-28'];

/** A 2026 request refused for its headers, as the SDK's entry refuses it: the HTTP status and the JSON-RPC error. */
export interface HeaderRejection {
  status: number;
  error: { code: number; message: string; data?: unknown };
}

/**
 * What the SDK's entry would refuse a stateless request for before serving it: its envelope, an
 * unsupported protocol version, `Mcp-Method` and `Mcp-Name` against the body; `undefined` when it passes.
 */
export function standardHeadersRejection(req: IncomingMessage, body: unknown): HeaderRejection | undefined {
  const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
  const outcome = classifyInboundRequest({
    httpMethod: req.method ?? 'POST',
    protocolVersionHeader: header('mcp-protocol-version'),
    mcpMethodHeader: header('mcp-method'),
    mcpNameHeader: header('mcp-name'),
    body,
  });
  if (outcome.kind === 'reject')
    return {
      status: outcome.httpStatus,
      error: { code: outcome.code, message: outcome.message, ...(outcome.data === undefined ? {} : { data: outcome.data }) },
    };
  const requested = outcome.kind === 'modern' ? outcome.classification.revision : undefined;
  if (requested === undefined || !STATELESS_VERSIONS.includes(requested)) {
    const error = new UnsupportedProtocolVersionError({ supported: [...STATELESS_VERSIONS], requested: requested ?? 'unknown' });
    return { status: 400, error: { code: error.code, message: error.message, data: error.data } };
  }
  const missing = missingHeader(req, body);
  if (missing) return mismatchRejection(`the ${missing} header is missing`);
  const mismatch = nameHeaderMismatch(header('mcp-name'), body);
  return mismatch ? mismatchRejection(mismatch) : undefined;
}

/** The 400 `HeaderMismatch` answer, saying what disagrees. */
export function mismatchRejection(why: string): HeaderRejection {
  return { status: 400, error: { code: HEADER_MISMATCH, message: `Bad Request: the request headers and body disagree: ${why}` } };
}

/** A standard header every 2026 request must carry that this one lacks (its name), if any. */
function missingHeader(req: IncomingMessage, body: unknown): string | undefined {
  const { id, method } = body as { id?: unknown; method?: unknown };
  if (id === undefined || typeof method !== 'string') return undefined;
  if (req.headers['mcp-protocol-version'] === undefined) return 'MCP-Protocol-Version';
  return req.headers['mcp-method'] === undefined ? 'Mcp-Method' : undefined;
}

/**
 * Why the `Mcp-Name` header disagrees with what the body names (`params.name` of tools/call and
 * prompts/get, `params.uri` of resources/read), or `undefined` when it agrees or is not sent.
 */
function nameHeaderMismatch(header: string | undefined, body: unknown): string | undefined {
  if (header === undefined) return undefined;
  const { method, params } = body as { method?: string; params?: { name?: unknown; uri?: unknown; taskId?: unknown } };
  const named =
    method === 'resources/read'
      ? params?.uri
      : method === 'tools/call' || method === 'prompts/get'
        ? params?.name
        : method?.startsWith('tasks/')
          ? params?.taskId
          : undefined;
  if (named === undefined) return undefined;
  const value = decodeHeaderValue(header.trim());
  if (value === undefined) return `the Mcp-Name header ${JSON.stringify(header)} is not valid =?base64?…?= encoding`;
  return named === value ? undefined : `the Mcp-Name header names ${JSON.stringify(value)}, the body ${JSON.stringify(named)}`;
}

/**
 * An MCP standard header's value: as sent, or, in the `=?base64?…?=` form a client uses for a
 * value that cannot be a header (non-ASCII, control characters), decoded from canonical Base64
 * as UTF-8. `undefined` when that form is malformed.
 */
function decodeHeaderValue(value: string): string | undefined {
  if (!value.startsWith('=?base64?') || !value.endsWith('?=')) return value;
  const encoded = value.slice('=?base64?'.length, -'?='.length);
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(encoded, 'base64'));
  } catch {
    return undefined;
  }
}

/** One tool argument that its input schema marks `x-mcp-header`: the client mirrors it into `Mcp-Param-{name}`. */
export interface ParamHeaderDeclaration {
  /** Where the argument is in `arguments`: a chain of `properties` keys. */
  path: string[];
  /** The header's name after `Mcp-Param-`. */
  name: string;
  /** The property's JSON Schema type (`string`, `integer`, `boolean`; `number` is compared as a number too). */
  type?: string;
}

/**
 * The `x-mcp-header` declarations of a tool's `inputSchema` (MCP 2026-07-28 Streamable HTTP,
 * "Schema Extension"): properties reached through `properties` alone, at any depth. A declaration
 * anywhere else makes the tool invalid, which is its upstream's to answer for; it is not checked here.
 */
export function paramHeaderDeclarations(inputSchema: unknown): ParamHeaderDeclaration[] {
  const found: ParamHeaderDeclaration[] = [];
  const visit = (node: unknown, path: string[]) => {
    if (typeof node !== 'object' || node === null) return;
    const schema = node as { 'x-mcp-header'?: unknown; type?: unknown; properties?: unknown };
    const name = schema['x-mcp-header'];
    if (path.length > 0 && typeof name === 'string' && name !== '')
      found.push({ path, name, ...(typeof schema.type === 'string' ? { type: schema.type } : {}) });
    if (typeof schema.properties === 'object' && schema.properties !== null) {
      for (const [key, child] of Object.entries(schema.properties)) visit(child, [...path, key]);
    }
  };
  visit(inputSchema, []);
  return found;
}

/**
 * Why the agent's `Mcp-Param-*` headers disagree with the call's `arguments` (MCP 2026-07-28
 * "Custom Headers from Tool Parameters"), or `undefined` when they agree. An argument that is
 * present must come with its header, decoding to the same value (integers and numbers compared
 * as numbers); an absent or null one expects no header.
 */
export function paramHeaderMismatch(
  declarations: ParamHeaderDeclaration[],
  args: unknown,
  headers: IncomingHttpHeaders,
): string | undefined {
  for (const { path, name, type } of declarations) {
    const value = path.reduce<unknown>(
      (node, key) => (typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined),
      args,
    );
    const expected = headerForm(value);
    if (expected === undefined) continue;
    const header = `Mcp-Param-${name}`;
    const sent = headers[header.toLowerCase()];
    if (typeof sent !== 'string') return `the body carries ${path.join('.')}=${JSON.stringify(value)} but the ${header} header is absent`;
    const decoded = decodeHeaderValue(sent.trim());
    if (decoded === undefined) return `the ${header} header is not valid =?base64?…?= encoding`;
    const numeric = (type === 'integer' || type === 'number') && typeof value === 'number' && /^-?\d+(\.\d+)?$/.test(decoded);
    if (numeric ? Number(decoded) !== value : decoded !== expected)
      return `the ${header} header carries ${JSON.stringify(decoded)}, the body ${path.join('.')}=${JSON.stringify(value)}`;
  }
  return undefined;
}

/** An argument as its header carries it: strings as they are, booleans and finite numbers in their plain form; `undefined` for anything that has no header. */
function headerForm(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number' && Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value)))
    return String(value);
  return undefined;
}
