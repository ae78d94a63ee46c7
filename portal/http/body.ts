import express from 'express';
import type { Middleware } from './middleware.js';

/**
 * Body parsers with the configured size limit (413 past it, 400 for malformed JSON, both
 * answered by the error mapping). Mounted per route: proxied apps stream bodies unparsed.
 * Node-level (`req.body`), so the MCP endpoints use them outside express too.
 */
export function bodyParsers(limit: string): { json: Middleware; form: Middleware } {
  return {
    json: express.json({ limit, type: ['application/json', 'application/*+json'] }),
    form: express.urlencoded({ limit, extended: false, parameterLimit: 100 }),
  };
}
