const UNIT_BYTES = { b: 1, kb: 1_024, mb: 1_048_576 } as const;

/** Parses `512b`, `100kb`, `1mb` into bytes (binary units, as body-parser reads them); `undefined` when malformed. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)(b|kb|mb)$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_BYTES[match[2] as keyof typeof UNIT_BYTES];
}
