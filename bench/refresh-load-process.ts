/**
 * Child process of the token benchmark: each client of argv[2] (JSON, see refresh-load.ts)
 * refreshes in a loop over one keep-alive connection until the time is up; prints the figures,
 * its own CPU time and every client's latest refresh token as JSON.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { RefreshingClient, RefreshLoad } from './refresh-load.js';

const { tokenEndpoint, clients, seconds } = JSON.parse(process.argv[2]!) as {
  tokenEndpoint: string;
  clients: RefreshingClient[];
  seconds: number;
};
const agent = new Agent({ keepAlive: true, maxSockets: clients.length });
const latencies: number[] = [];
let errors = 0;

function post(client: RefreshingClient): Promise<{ status: number; body: string }> {
  const body = `grant_type=refresh_token&refresh_token=${encodeURIComponent(client.refreshToken)}`;
  const authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.secret)}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request(
      tokenEndpoint,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), authorization },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function refreshLoop(client: RefreshingClient, deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    const started = performance.now();
    const res = await post(client);
    if (res.status !== 200) {
      // The chain is broken (its token is gone): this client stops; the run reports the error.
      errors++;
      process.stderr.write(`refresh failed for ${client.clientId}: ${res.status} ${res.body}\n`);
      return;
    }
    latencies.push(performance.now() - started);
    client.refreshToken = (JSON.parse(res.body) as { refresh_token: string }).refresh_token;
  }
}

const before = process.cpuUsage();
const started = performance.now();
await Promise.all(clients.map((client) => refreshLoop(client, started + seconds * 1000)));
const elapsed = (performance.now() - started) / 1000;
const used = process.cpuUsage(before);
agent.destroy();
latencies.sort((a, b) => a - b);
const percentile = (p: number) =>
  Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0) * 100) / 100;
const result: RefreshLoad = {
  rps: latencies.length / elapsed,
  total: latencies.length,
  p50: percentile(0.5),
  p99: percentile(0.99),
  errors,
  cpuMs: (used.user + used.system) / 1000,
  clients,
};
process.stdout.write(JSON.stringify(result));
