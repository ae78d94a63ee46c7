import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';

const MAIN = path.resolve('dist/portal/main.js');

/**
 * `gatehouse start` (`npm start`'s built entry point) as a real process, with only `PATH` and `env`
 * in its environment. `until` resolves once stdout satisfies `pattern`, and rejects if the process
 * exits first.
 */
export function startPortalProcess(args: string[], env: NodeJS.ProcessEnv, cwd = tmpdir()) {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const until = (pattern: (out: string) => boolean) =>
    new Promise<void>((resolve, reject) => {
      if (pattern(stdout)) return resolve();
      child.stdout.on('data', () => pattern(stdout) && resolve());
      void exited.then(() => reject(new Error(`exited first: ${stderr}`)));
    });
  return { child, exited, until, output: () => ({ stdout, stderr }) };
}
