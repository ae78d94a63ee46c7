/**
 * Freezes `value` and everything reachable from it, so that a write anywhere in it throws
 * (ESM is strict mode): the loaded config is shared by every module and must not drift.
 */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
