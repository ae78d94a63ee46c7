import type { RequestHandler } from 'express';
import { OAuthError } from '../http/errors.js';

/**
 * Refuses a form body that repeats a parameter: "Request and response parameters MUST NOT be
 * included more than once" (RFC 6749 §3.1, for the token endpoint and, by reference, RFC 7009
 * §2.1 and RFC 7662 §2.1). Which of two values counts would otherwise be the parser's choice.
 */
export const singleValuedForm: RequestHandler = (req, _res, next) => {
  const repeated = Object.entries((req.body ?? {}) as Record<string, unknown>).find(([, value]) => typeof value !== 'string');
  if (repeated) throw new OAuthError('invalid_request', `"${repeated[0]}" must appear once`);
  next();
};
