import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** One load run's figures. */
export interface Load {
  rps: number;
  /** Requests completed in the run. */
  total: number;
  p50: number;
  p99: number;
  errors: number;
  /** The load generator's own CPU time over the run, in ms. */
  cpuMs: number;
}

/** A process of the benchmark's own: its URLs, and its CPU time so far (ms). */
export interface ChildServers {
  urls: string[];
  child: ChildProcess;
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Runs autocannon in its own process, so the load generator does not share the portal's event loop. */
export function runLoad(options: {
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  method?: 'GET' | 'POST';
  seconds: number;
  connections?: number;
}): Promise<Load> {
  const args = {
    url: options.url,
    method: options.method ?? 'POST',
    headers: options.headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    connections: options.connections ?? 10,
    duration: options.seconds,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [here('./load-process.js'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Load) : reject(new Error(`load process exited ${code}`))));
  });
}

/** Starts `count` demo MCP servers in a process of their own; resolves their URLs. */
export async function startUpstreams(count: number): Promise<ChildServers> {
  const { first, ...child } = await startChild<string[]>('./upstream-process.js', [String(count)]);
  return { urls: first, ...child };
}

/** Starts an HTML app serving one page of `kilobytes` KB in a process of its own. */
export async function startHtmlApp(kilobytes: number): Promise<ChildServers> {
  const { first, ...child } = await startChild<string[]>('./html-upstream-process.js', [String(kilobytes)]);
  return { urls: first, ...child };
}

/**
 * Starts `script` (a file of this folder); its first stdout line is JSON (`first`), each later one
 * answers a `cpu` line sent to its stdin (see child-cpu.ts). `nodeArgs` go to node (`--cpu-prof`).
 */
export function startChild<T>(script: string, args: string[], nodeArgs: string[] = []): Promise<Omit<ChildServers, 'urls'> & { first: T }> {
  const child = spawn(process.execPath, [...nodeArgs, here(script), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const answers: Array<(line: string) => void> = [];
  return new Promise((resolve, reject) => {
    lines.once('line', (first) => {
      lines.on('line', (line) => answers.shift()?.(line));
      resolve({
        first: JSON.parse(first) as T,
        child,
        cpuMs: () =>
          new Promise((answered) => {
            answers.push((line) => answered(Number(line)));
            child.stdin!.write('cpu\n');
          }),
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
}
