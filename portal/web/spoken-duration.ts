/** A duration as a person reads it: `10 minutes`, `1 hour`, `90 seconds`. */
export function spokenDuration(ms: number): string {
  const [amount, unit] =
    ms % 3_600_000 === 0 ? [ms / 3_600_000, 'hour'] : ms % 60_000 === 0 ? [ms / 60_000, 'minute'] : [Math.ceil(ms / 1000), 'second'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}
