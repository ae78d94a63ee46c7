import { createInterface } from 'node:readline';

/** In a benchmark's child process: answers each `cpu` line on stdin with this process's CPU time so far (ms) on stdout. */
export function answerCpuQueries(): void {
  createInterface({ input: process.stdin }).on('line', () => {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`${(user + system) / 1000}\n`);
  });
}
