/** The parameters of a `Bearer` challenge that the portal acts on (RFC 6750 §3, RFC 9728 §5.1). */
export interface BearerChallenge {
  /** `invalid_token`, `insufficient_scope`, … (RFC 6750 §3.1). */
  error?: string;
  /** The scopes the resource wants (RFC 6750 §3), split on spaces. */
  scope?: string[];
  /** Where the resource's RFC 9728 metadata lives. */
  resourceMetadata?: string;
}

/**
 * Reads the `Bearer` challenge of a `WWW-Authenticate` value (RFC 9110 §11.6.1 auth-params:
 * `name=token` or `name="quoted string"`). Other schemes, and parameters the portal does not use,
 * are ignored; an unparsable value yields `undefined`.
 */
export function parseBearerChallenge(header: string | undefined | null): BearerChallenge | undefined {
  if (!header) return undefined;
  const start = /(?:^|,)\s*Bearer(?:\s+|$)/i.exec(header);
  if (!start) return undefined;
  const params: Record<string, string> = {};
  const rest = header.slice(start.index + start[0].length);
  const param = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+.^_`|~0-9A-Za-z/-]+=*))\s*(?:,|$)/y;
  for (let match = param.exec(rest); match; match = param.exec(rest)) {
    const name = match[1]!.toLowerCase();
    // The first value of a name wins; a later challenge (after a new scheme) is not read.
    params[name] ??= match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3]!;
    if (param.lastIndex >= rest.length) break;
  }
  return {
    ...(params.error ? { error: params.error } : {}),
    ...(params.scope ? { scope: params.scope.split(' ').filter(Boolean) } : {}),
    ...(params.resource_metadata ? { resourceMetadata: params.resource_metadata } : {}),
  };
}
