/**
 * Why a POST body is not valid JSON-RPC 2.0 as MCP uses it, or `undefined` when it is: one
 * message or a non-empty batch, each a request (string `method`, string or number `id`: MCP
 * forbids null), a notification (no `id`), or a response (an `id`, exactly one of `result` and
 * `error`); `params` an object or array (JSON-RPC 2.0 §4.2); no request id used twice in a batch
 * (§6: answers are paired with requests by id). Checked before anything is relayed, so an
 * upstream only ever receives well-formed messages.
 */
export function envelopeProblem(body: unknown): string | undefined {
  const messages = Array.isArray(body) ? body : [body];
  if (messages.length === 0) return 'an empty batch';
  if (!messages.every(isMessage)) return 'not a JSON-RPC 2.0 message';
  const ids = messages.filter((m) => typeof m.method === 'string' && 'id' in m).map((m) => `${typeof m.id}:${String(m.id)}`);
  if (new Set(ids).size !== ids.length) return 'a batch may not use one request id twice';
  return undefined;
}

const isId = (id: unknown) => typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));

function isMessage(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return false;
  if ('method' in m) {
    if (typeof m.method !== 'string') return false;
    if ('params' in m && (typeof m.params !== 'object' || m.params === null)) return false;
    return !('id' in m) || isId(m.id);
  }
  if (!('id' in m) || !(isId(m.id) || m.id === null) || 'result' in m === 'error' in m) return false;
  if (!('error' in m)) return true;
  const error = m.error as { code?: unknown; message?: unknown } | null;
  return typeof error === 'object' && error !== null && Number.isInteger(error.code) && typeof error.message === 'string';
}
