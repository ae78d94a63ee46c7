import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Load } from './processes.js';

/** A confidential client (`client_secret_basic`) holding the refresh token it is to present next. */
export interface RefreshingClient {
  clientId: string;
  secret: string;
  refreshToken: string;
}

/** What a token-endpoint contender's process prints first: its token endpoint and its seeded clients. */
export interface TokenServer {
  tokenEndpoint: string;
  clients: RefreshingClient[];
}

/** A refresh run's figures, and each client's refresh token after it (the next run goes on from there). */
export interface RefreshLoad extends Load {
  clients: RefreshingClient[];
}

/**
 * Runs the refresh workload in a process of its own: every client refreshes in a loop, one
 * request at a time, presenting the refresh token the previous response rotated to (so
 * `clients.length` requests are in flight at once).
 */
export function runRefreshLoad(options: { tokenEndpoint: string; clients: RefreshingClient[]; seconds: number }): Promise<RefreshLoad> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./refresh-load-process.js', import.meta.url)), JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as RefreshLoad) : reject(new Error(`refresh load process exited ${code}`)),
    );
  });
}
