import express, { type RequestHandler } from 'express';

/**
 * Body parsers with the configured size limit (413 past it, 400 for malformed JSON, both
 * answered by the error handler). Mounted per route: proxied apps stream bodies unparsed.
 */
export function bodyParsers(limit: string): { json: RequestHandler; form: RequestHandler } {
  return {
    json: express.json({ limit, type: ['application/json', 'application/*+json'] }),
    form: express.urlencoded({ limit, extended: false, parameterLimit: 100 }),
  };
}
