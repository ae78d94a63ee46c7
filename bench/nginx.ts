import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { processTreeCpuMs } from './proc-cpu.js';

/** A running nginx of the bench's own. */
export interface Nginx {
  url: string;
  /** CPU time (ms) nginx's master and worker have used so far. */
  cpuMs(): number;
  stop(): Promise<void>;
}

const BINARIES = ['/usr/sbin/nginx', '/usr/bin/nginx'];

/**
 * nginx as people run it in front of an app, the peer the app proxy is measured against: one
 * worker, HTTP/1.1 keep-alive connections to the upstream, no access log, on 127.0.0.1. It runs
 * as a process of the bench's own (`daemon off`) from a generated config in a temporary
 * directory, and is installed from the Debian packages first when it is missing.
 */
export async function startNginx(upstreamUrl: string): Promise<Nginx> {
  const binary = nginxBinary();
  const upstream = new URL(upstreamUrl);
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-nginx-'));
  for (const temp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, temp));
  const config = `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
    server ${upstream.hostname}:${upstream.port};
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), config);
  const child = spawn(binary, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(port, exited);
  } catch (error) {
    child.kill('SIGTERM');
    const log = existsSync(path.join(dir, 'error.log')) ? readFileSync(path.join(dir, 'error.log'), 'utf8') : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`nginx did not start: ${(error as Error).message}\n${log}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    cpuMs: () => processTreeCpuMs(child.pid!),
    stop: async () => {
      child.kill('SIGQUIT'); // graceful shutdown
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The nginx binary, installed with apt-get (Debian's `nginx` package) when there is none. */
function nginxBinary(): string {
  const found = () => BINARIES.find((candidate) => existsSync(candidate));
  if (found()) return found()!;
  console.log('nginx is not installed: installing the Debian package (apt-get install -y nginx)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx'], { stdio: 'inherit', env });
  } catch {
    // A fresh machine has no package lists yet.
    execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'nginx'], { stdio: 'inherit', env });
  }
  const binary = found();
  if (!binary) throw new Error('apt-get install nginx left no nginx binary');
  return binary;
}

/** A loopback port nothing listens on (for a process that binds it itself). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on `port`; rejects if `exited` settles first or after 10 s. */
export async function waitForPort(port: number, exited: Promise<void>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (gone) throw new Error('the process exited');
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(socket.destroy() !== undefined));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on port ${port} after 10 s`);
}
