import type { Clock } from '../../portal/clock.js';

/** A clock a test can move forward: expiry without waiting. */
export interface TestClock extends Clock {
  /** Moves the time forward by `ms` milliseconds, at once. */
  advance(ms: number): void;
}

/**
 * The real time plus however far the test has moved it. It keeps running, so the portal agrees
 * with the real peers of a test (an IdP signing ID tokens, a client signing DPoP proofs) to
 * within the moves, and nothing waits on a clock that stands still.
 */
export function testClock(): TestClock {
  let offsetMs = 0;
  return {
    now: () => Date.now() + offsetMs,
    advance: (ms) => {
      offsetMs += ms;
    },
  };
}
