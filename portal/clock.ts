/**
 * Where the portal reads the time. Everything that decides whether something has expired
 * (codes, tokens, sessions, cached documents, store entries) asks a `Clock`, so a test can move
 * time forward instead of waiting for it. Durations measured only for logs and metrics read
 * `Date.now()` or `performance.now()` directly: they describe what really happened.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch, as `Date.now()`. */
  now(): number;
}

/** The real time. */
export const systemClock: Clock = { now: () => Date.now() };

/** Seconds since the Unix epoch, rounded down: the unit of JWT `iat`, `exp` and `nbf` (RFC 7519 §2). */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}
