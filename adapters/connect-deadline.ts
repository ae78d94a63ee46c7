/**
 * Settles like `work`, or rejects with `onTimeout()` once `timeoutMs` has passed. The caller
 * owns cleanup (closing the half-open transport) because only it knows what was started.
 */
export function withDeadline<T>(work: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, timeoutMs));
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Milliseconds left until `deadlineAt` (a `Date.now()` value), never negative. */
export function remainingMs(deadlineAt: number): number {
  return Math.max(0, deadlineAt - Date.now());
}
