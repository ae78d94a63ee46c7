import type { Clock } from '../../portal/clock.js';

/** A clock that stands still until a test moves it: expiry without waiting. */
export interface TestClock extends Clock {
  /** Moves the time forward by `ms` milliseconds. */
  advance(ms: number): void;
}

/** A {@link TestClock} starting at the real time now (JWTs and cookies carry plausible dates). */
export function testClock(start = Date.now()): TestClock {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}
