import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CONFORMANCE_CLI } from './node22.js';

/** One check of a `@modelcontextprotocol/conformance` scenario, as in its `checks.json`. */
export interface ConformanceCheck {
  id: string;
  name?: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'SKIPPED' | 'INFO';
  errorMessage?: string;
  details?: Record<string, unknown>;
}

/** The checks of each scenario in a CLI output directory (`-o`), by scenario name. */
export function readConformanceResults(outputDir: string): Map<string, ConformanceCheck[]> {
  const results = new Map<string, ConformanceCheck[]>();
  for (const dir of readdirSync(outputDir)) {
    const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');
    const checks = JSON.parse(readFileSync(path.join(outputDir, dir, 'checks.json'), 'utf8')) as ConformanceCheck[];
    results.set(scenario, [...(results.get(scenario) ?? []), ...checks]);
  }
  return results;
}

/**
 * Runs the conformance CLI (`conformance server …args`) on `runtime` (a Node.js ≥ 22) and
 * resolves with its output once it exits, whatever its exit code (it exits non-zero when a
 * check fails: what a test asserts is the checks it saved). Running children are added to
 * `running` until they exit, so that a test can stop them should it time out.
 */
export function runConformanceCli(runtime: string, args: string[], running: Set<ReturnType<typeof spawn>>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(runtime, [CONFORMANCE_CLI, 'server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data));
    child.stderr.on('data', (data: Buffer) => (output += data));
    child.once('error', (error) => {
      running.delete(child);
      reject(error);
    });
    child.once('exit', () => {
      running.delete(child);
      resolve(output);
    });
  });
}

/**
 * The conformance CLI cannot send an Authorization header, so the portal is reached through
 * this forwarding proxy on 127.0.0.1: it adds the agent's bearer token to every request and
 * otherwise passes requests (Host header included) and streamed responses through unchanged.
 */
export async function startBearerProxy(target: string, token: string): Promise<{ url: string; close(): Promise<void> }> {
  const targetUrl = new URL(target);
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      {
        host: targetUrl.hostname,
        port: targetUrl.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, authorization: `Bearer ${token}` },
      },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
