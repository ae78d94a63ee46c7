import { spawn, type ChildProcess } from 'node:child_process';

/** The built `gatehouse` CLI (run `npm run build` first). */
export const CLI = 'dist/portal/cli.js';

/** A running `gatehouse` child process: its output so far, a wait for a line on stderr, and its end. */
export interface GatehouseRun {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves the first match of `pattern` in stderr (what the CLI tells the person), as soon as it appears. */
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves the exit code and the whole output. */
  exited: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Starts `gatehouse ...args` with only PATH and `env` in its environment (so no real home or config leaks in). */
export function startGatehouse(
  args: string[],
  env: Record<string, string | undefined>,
  options: { timeoutMs?: number } = {},
): GatehouseRun {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const waiter of waiters.splice(0)) waiter();
  });
  const timer = setTimeout(() => child.kill(), options.timeoutMs ?? 60_000);
  const exited = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      for (const waiter of waiters.splice(0)) waiter();
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitForStderr(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(stderr);
          if (match) resolve(match);
          else if (child.exitCode !== null) reject(new Error(`gatehouse ${args[0]} ended without printing ${pattern}: ${stderr}`));
          else waiters.push(check);
        };
        check();
      });
    },
    exited,
  };
}

/** Runs `gatehouse ...args` to its end (stdin closed at once). */
export function runGatehouse(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = startGatehouse(args, env);
  run.child.stdin!.end();
  return run.exited;
}

/** The user code and verification URI a device sign-in printed. */
export async function devicePrompt(run: GatehouseRun): Promise<{ verificationUri: string; userCode: string }> {
  const match = await run.waitForStderr(/open (\S+) and enter the code (\S+)/);
  return { verificationUri: match[1]!, userCode: match[2]! };
}
