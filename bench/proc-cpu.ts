import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of the times in `/proc/{pid}/stat`. */
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * The CPU time (user + system, ms) a process and its live descendants have used so far, read
 * from `/proc` (Linux): for processes that cannot answer for themselves, such as nginx's master
 * and worker or a portal's cluster of workers. Resolution: one clock tick (10 ms), so read it
 * around runs of seconds.
 */
export function processTreeCpuMs(pid: number): number {
  let ticks = 0;
  const pending = [pid];
  while (pending.length) {
    const current = pending.pop()!;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${current}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // proc(5): after "pid (comm) ", utime and stime are the 12th and 13th fields.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
    pending.push(...childrenOf(current));
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
