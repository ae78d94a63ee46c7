/**
 * Why an authorization response may not be used, judged by its `iss` alone, or `undefined` when
 * it may (RFC 9207 §2.4, as MCP 2026-07-28 "Authorization Response Validation" applies it):
 *
 * - a present `iss` must equal `recordedIssuer`, the issuer of the validated metadata the request
 *   was sent to, by simple string comparison (RFC 3986 §6.2.1: no case folding, default-port or
 *   trailing-slash normalisation), whether or not the server advertises
 *   `authorization_response_iss_parameter_supported` (RFC 9207 §2.4 local policy);
 * - an absent `iss` is refused only when the server advertises that it sends one (RFC 9207 §2.3);
 * - `iss` given more than once is refused.
 *
 * Checked before anything else in the response, a `code` or an `error`, is acted on: on a
 * mismatch neither may be used or shown (a mix-up attack, RFC 9207 §1).
 */
export function authorizationResponseIssuerProblem(
  params: URLSearchParams,
  recordedIssuer: string,
  issParameterSupported: boolean,
): string | undefined {
  const values = params.getAll('iss');
  if (values.length > 1) return 'carries "iss" more than once';
  const [iss] = values;
  if (iss === undefined) return issParameterSupported ? `carries no "iss" though ${recordedIssuer} says it sends one` : undefined;
  if (iss !== recordedIssuer) return `names issuer ${JSON.stringify(iss.slice(0, 200))}, not ${recordedIssuer} that the request went to`;
  return undefined;
}
