import express from 'express';
import type { IncomingMessage } from 'node:http';
import type { Middleware } from './middleware.js';

/** The body parsers' refusal of JSON nested past the limit (`type`, as body-parser names its own). */
export const JSON_TOO_DEEP = 'entity.too.deep';

/**
 * Body parsers with the configured limits (413 past the size, 400 for malformed JSON or JSON
 * nested deeper than `jsonDepthLimit`, 415 for JSON not in UTF-8; all answered by the error
 * mapping). Mounted per route: proxied apps stream bodies unparsed. Node-level (`req.body`), so
 * the MCP endpoints use them outside express too.
 */
export function bodyParsers(limits: { bodyLimitBytes: number; jsonDepthLimit: number }): { json: Middleware; form: Middleware } {
  return {
    json: express.json({
      limit: limits.bodyLimitBytes,
      type: ['application/json', 'application/*+json'],
      // Runs on the raw bytes before JSON.parse: a body nested past the limit is never parsed.
      verify: (_req: IncomingMessage, _res: unknown, body: Buffer, encoding: string) => {
        // RFC 8259 §8.1: JSON between systems is UTF-8, whose bytes the depth scan reads.
        if (encoding.toLowerCase() !== 'utf-8')
          throw Object.assign(new Error(`JSON must be UTF-8, not ${encoding}`), { type: 'charset.unsupported' });
        if (nestedDeeperThan(body, limits.jsonDepthLimit))
          throw Object.assign(new Error(`JSON nested deeper than ${limits.jsonDepthLimit} levels`), { type: JSON_TOO_DEEP });
      },
    }),
    form: express.urlencoded({ limit: limits.bodyLimitBytes, extended: false, parameterLimit: 100 }),
  };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * Whether UTF-8 JSON text nests arrays and objects deeper than `max` (brackets inside strings do
 * not count; the text need not be valid JSON). One pass, no recursion: safe on any input.
 */
export function nestedDeeperThan(text: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const byte = text[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACKET || byte === OPEN_BRACE) {
      if (++depth > max) return true;
    } else if (byte === CLOSE_BRACKET || byte === CLOSE_BRACE) depth--;
  }
  return false;
}
