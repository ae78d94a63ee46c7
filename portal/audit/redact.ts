/** What the audit log keeps of arguments and results (config `audit.*`). */
export interface RedactionOptions {
  includeArguments: boolean;
  includeResults: boolean;
  /** Keys (any depth, case-insensitive, matched as substrings: `api_key` matches `x_api_key`) whose values are blanked. */
  redactKeys: readonly string[];
  /** Longest JSON kept of one value; longer values are cut and marked. */
  maxChars?: number;
}

const CENSOR = '[redacted]';

/** A copy of `value` with every matching key's value blanked, at any depth. */
export function redactValue(value: unknown, keys: readonly string[], depth = 0): unknown {
  if (depth > 20) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => redactValue(item, keys, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        keys.some((key) => k.toLowerCase().includes(key.toLowerCase())) ? CENSOR : redactValue(v, keys, depth + 1),
      ]),
    );
  }
  return value;
}

/** `value` redacted, or its JSON cut to `maxChars` (a string then) when it is longer. */
export function redactAndTrim(value: unknown, options: RedactionOptions): unknown {
  const redacted = redactValue(value, options.redactKeys);
  const max = options.maxChars ?? 4_000;
  const text = JSON.stringify(redacted) ?? '';
  return text.length > max ? `${text.slice(0, max)}…[truncated ${text.length - max} chars]` : redacted;
}
