import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PRELOAD = fileURLToPath(new URL('./listen-loopback.mjs', import.meta.url));
const MARKER = /^GATEHOUSE_TEST_LISTENING (\d+)$/;

/** A third-party server running as a child process on a loopback port of its own. */
export interface ChildServer {
  port: number;
  child: ChildProcess;
  /** Everything the child printed, for failure messages. */
  output: string[];
  close(): Promise<void>;
}

/**
 * Starts `node <script> ...args` with `PORT=0` and the listen-loopback preload, and resolves
 * once the child reports the port it bound (on 127.0.0.1, whatever the server asked for).
 */
export function startChildServer(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', PRELOAD, script, ...args], {
    env: { ...process.env, ...env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => output.push(line));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stderr! });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before listening:\n${output.join('\n')}`)));
    lines.on('line', (line) => {
      output.push(line);
      const match = MARKER.exec(line);
      if (!match) return;
      resolve({
        port: Number(match[1]),
        child,
        output,
        close: () => stopChild(child),
      });
    });
  });
}

/** SIGTERM, then SIGKILL if the child lingers; resolves once it is gone. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** `@modelcontextprotocol/server-everything` in `streamableHttp` mode; its endpoint is `url`. */
export async function startEverythingServer(): Promise<ChildServer & { url: string }> {
  const script = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url));
  const server = await startChildServer(script, ['streamableHttp']);
  return { ...server, url: `http://127.0.0.1:${server.port}/mcp` };
}
